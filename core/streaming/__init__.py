"""Streaming live 3D joints out to game engines and other tools (OSC over UDP)."""

from core.streaming.osc import OSCStreamer, decode_osc, encode_bundle, encode_message, streamer_from_url

__all__ = ["OSCStreamer", "decode_osc", "encode_bundle", "encode_message", "streamer_from_url"]
