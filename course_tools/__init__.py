"""The course's tooling: what builds and grades the course, never imported by a notebook.

    release        regenerate release/ from source/ with nbgrader
    mnist_data     provision and verify MNIST in data/
    visdom_assets  visdom's web-page libraries, from npm
    workspace      the students' working copies in work/
    autograde      stock nbgrader's autograde, as the round-trip tests use it
    grading/       the course grader: sandboxed, parallel, into nbgrader's gradebook
    cli            one command line for all of them (``python -m course_tools``, behind ``./course``)

It may import ``torchcourse`` (the notebooks' helpers); ``torchcourse`` never imports it.
"""
