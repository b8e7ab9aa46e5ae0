"""The three states a service can be in, as `0xl list` and `0xl status` report them."""

RUNNING, STOPPED, FAILED = "running", "stopped", "failed"
