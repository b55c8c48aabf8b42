from mlopsctl_stage.cli import main

main()
