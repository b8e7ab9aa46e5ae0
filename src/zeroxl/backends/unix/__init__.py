"""The unix backend: a service's program as a supervised process on this host (docs/unix-backend.md).

backend.py drives it (start, stop, status), supervisor.py is the process that watches the program, and
runtime.py reads what it is doing, light enough for `0xl list`. Kept free of imports here: `0xl list`
loads this package.
"""
