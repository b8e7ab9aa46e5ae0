"""The libvirt backend: a service's kernel (a unikernel built with `mirage configure -t virtio`, or any
Linux kernel) as a libvirt domain named after the service, its disks as storage volumes (docs/libvirt.md).

libvirt-python is imported only by connection.py, and only when the backend is used: 0xl without it
installed works, and says what to install when `--backend libvirt` is asked for.
"""
