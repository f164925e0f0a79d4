"""torchcourse.bundled reads the small data sets that ship inside scikit-learn from its files, without
importing it (a second of every notebook kernel's start): the same numbers and names as
scikit-learn's own loaders, and the notebooks' loaders leave scikit-learn unimported."""
import subprocess
import sys

import numpy as np
import pytest

from torchcourse import bundled


@pytest.mark.core
def test_digits_are_scikit_learns():
    from sklearn.datasets import load_digits

    raw, table = load_digits(), bundled.digits()
    assert table.shape == (1797, 65)
    assert np.array_equal(table[:, :64], raw.data) and np.array_equal(table[:, 64], raw.target)


@pytest.mark.core
def test_breast_cancer_is_scikit_learns():
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    data, target, target_names = bundled.breast_cancer()
    assert np.array_equal(data, raw.data) and np.array_equal(target, raw.target) and target.dtype == np.int64
    assert target_names == tuple(raw.target_names) == ("malignant", "benign")
    assert bundled.BREAST_CANCER_FEATURES == tuple(raw.feature_names)


@pytest.mark.core
def test_without_the_files_scikit_learns_loaders_find_them(monkeypatch):
    monkeypatch.setattr(bundled, "_data_file", lambda name: None)
    data, target, names = bundled.breast_cancer()
    assert data.shape == (569, 30) and target.dtype == np.int64 and names == ("malignant", "benign")
    assert bundled.digits().shape == (1797, 65)


def test_the_notebooks_loaders_do_not_import_scikit_learn():
    code = ("import sys\n"
            "from torchcourse import classification, generalisation, multiclass\n"
            "classification.load_breast_cancer_split(); generalisation.load_digits_split(); multiclass.load_digits_split()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stdout
