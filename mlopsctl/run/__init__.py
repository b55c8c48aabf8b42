"""``mlopsctl run --local``: a target's compiled pipelines, batch jobs and monitors run on this machine."""
