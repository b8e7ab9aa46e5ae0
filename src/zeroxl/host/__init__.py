"""Facts about this host and the rules 0xl keeps on it: where its state lives (paths), what the operator
configured (config) and allows (policy), how numbers and names are written (units, names), where a guest
finds its devices (devices) and what MAC each VM network has (macs), what a service needs from its host
(needs), and which process is which (procinfo).

Pure or nearly so, and below everything else but errors: host facts import no feeds, state or backends.
Kept free of imports here: `0xl list` loads this package.
"""
