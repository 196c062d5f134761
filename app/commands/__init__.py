"""Subcommands of ``ppt-mocap``: one module each, discovered by :mod:`app.cli`."""
