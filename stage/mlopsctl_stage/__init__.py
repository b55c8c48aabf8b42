"""The stage runtime of mlopsctl: one subcommand of ``mlopsctl-stage`` per built-in stage."""

__version__ = "0.1.0"
