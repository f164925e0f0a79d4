"""Where a submission's time goes: the stages the grader times, and the table the benchmark prints."""
import time

from course_tools.grading.model import Stage, Stages
from course_tools.grading.report import stage_table


def test_stages_add_up_per_stage():
    stages = Stages()
    for _ in range(2):
        with stages.timed(Stage.VISIBLE):
            time.sleep(0.01)
    try:
        with stages.timed(Stage.HIDDEN):
            raise ValueError   # a stage that fails is timed too
    except ValueError:
        pass
    assert set(stages) == {Stage.VISIBLE.value, Stage.HIDDEN.value}
    assert stages[Stage.VISIBLE.value] >= 0.02
    other = Stages({Stage.VISIBLE.value: 1.0})
    other.add(stages)
    assert other[Stage.VISIBLE.value] >= 1.02


def test_the_table_has_a_row_per_stage_and_the_medians():
    runs = {"01_tensors": [{Stage.VISIBLE.value: 1.0, Stage.HIDDEN.value: 4.0},
                           {Stage.VISIBLE.value: 3.0}, {Stage.VISIBLE.value: 2.0, Stage.HIDDEN.value: 1.0}]}
    lines = stage_table(runs).splitlines()
    assert len(lines) == 1 + len(Stage) + 1 and "01_tensors (3)" in lines[0]
    row = {line[:32].strip(): line[32:].strip() for line in lines[1:]}
    assert row[Stage.VISIBLE.value] == "2.00" and row[Stage.HIDDEN.value] == "1.00"
    assert row[Stage.START.value] == "0.00" and row["sum"] == "3.00"
