"""Session folders, recorded results, keypoint files and exporters."""
