"""0xl's state on disk: atomic files, locks, versioned service records and their history."""
