"""One module per built-in stage (see ``mlopsctl_stage.cli.STAGES``)."""
