"""Benchmark jobs behind ``ppt-mocap bench``: one module each (``NAME``, ``HELP``, ``add_arguments``, ``run``).

Every ``ppt-mocap`` start imports these modules to list the jobs, so each job imports what it measures (PyTorch,
the studio, the pipeline, ...) inside ``run``: the command line stays fast and a job never loads another's stack.
"""
