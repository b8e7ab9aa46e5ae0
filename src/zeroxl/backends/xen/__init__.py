"""The xen backend: a service's Xen build as an xl domain (docs/xen.md).

backend.py drives the domain through `xl`; domain.py decides what the domain gets from the service, the
host's policy and the feed; cfgfile.py writes that as an xl.cfg(5) file; xl.py builds xl's command lines
and reads what it prints; dom0.py says whether this host can run Xen domains at all.
"""
