"""Create the resource graph of this stack's environment/region (see README.md)."""

from mlopsctl.stack import main

main()
