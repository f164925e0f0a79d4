"""The course's nbgrader settings, shared by release generation, tests, stock nbgrader and the course grader."""
c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "pytorch-fundamentals"

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Time limits: a single cell, and the kernel start. A cell past its limit is interrupted and
# scored zero; the notebook's other cells still run.
c.Execute.timeout = 120
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True

# Stock nbgrader scores a test cell zero when anything reaches stderr, so a correct answer that
# raises a UserWarning or draws a tqdm bar would lose its points. A failing test raises (an
# `error` output), which is what decides the grade; stderr is noise, so drop it before scoring.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).*"

# Keep feedback and gradebooks small even when a submission prints a flood.
c.LimitOutput.max_lines = 300
c.LimitOutput.max_traceback = 100

# The course grader (./course grade) reads the two time limits above and these (course_tools/grading/limits.py).
c.CourseGrader.notebook_timeout = 600         # seconds for a whole notebook, kernel restarts included
c.CourseGrader.memory = 4 << 30               # bytes, per submission's sandbox
c.CourseGrader.processes = 256                # processes + threads, per sandbox
c.CourseGrader.output_per_cell = 1 << 20      # bytes of output kept per cell, errors included
c.CourseGrader.output_per_notebook = 8 << 20  # bytes of output kept per notebook
