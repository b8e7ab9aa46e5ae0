"""The host-side use cases of 0xl, as plain functions of a Context (app.context): add; run, stop, destroy
(lifecycle); update, rollback and the version journal that makes both safe (journal, guardian, health);
set (update_settings); gc (store_gc); doctor; disks (disk_admin); trust (trust_admin); and the read path of
list, status and history (views).

A use case takes the locks it needs explicitly (app.session), and, holding a service's lock, finishes or
undoes explicitly what a killed 0xl left half done (app.journal.recover). The rules shared by several use
cases live once: whether settings and a version fit each other in app.fits.

Kept free of imports here: `0xl list` loads this package (for app.views).
"""
