"""Benchmark jobs behind ``ppt-mocap bench``: one module each (``NAME``, ``HELP``, ``add_arguments``, ``run``)."""
