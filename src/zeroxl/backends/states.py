"""The states a service can be in, as `0xl list` and `0xl status` report them."""

RUNNING, STOPPED, FAILED = "running", "stopped", "failed"
# A service on a host other than local whose domain is gone from the host (docs/fleet.md).
MISSING = "missing"
