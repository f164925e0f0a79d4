"""The instructors' grader: ``./course grade SUBMISSIONS`` (see docs/GRADING.md).

The pipeline, one module each:

    collect        find the submissions in a folder, whatever its layout    -> model.Task
    assignments    what the grader knows of each source assignment          -> model.AssignmentSpec
    submission     grade one task: read, sanitize (sanitize), stage, run, score   -> model.Result
      notebook_run   the run/restart loop over one notebook in the sandbox
        kernel       nbclient's executor with the sandbox's kernel manager, output caps, watchdog
        sandbox      bubblewrap, rlimits, process-tree usage
        guard        tamper checks around test cells (probe: the code that runs in the kernel)
    gradebook      nbgrader's database, one transaction per submission
    report         feedback without hidden tests, grades.csv, summary
    executor       what a Dask worker runs; tasks carry submissions and assignments by value
    orchestrate    the driver: a local cluster or --scheduler, results recorded as they arrive
    api / cli      grade(...) -> Report, and the command line over it
"""
