"""`python -m zeroxl` runs the same CLI as the `0xl` console script."""

from zeroxl.cli.main import entry

entry()
