import pytest

from reidbench.engine.sweep import parse_grid
from reidbench.errors import InputError


def test_parse_grid_types():
    g = parse_grid("M=5,10,20 alpha=0.1,0.3 cosam_stages=4+5,3+4+5 flip=true name=a")
    assert g == {"M": [5, 10, 20], "alpha": [0.1, 0.3], "cosam_stages": [[4, 5], [3, 4, 5]],
                 "flip": [True], "name": ["a"]}


@pytest.mark.parametrize("bad", ["M", "M=", "=5", "M=1 M=2", ""])
def test_parse_grid_rejects(bad):
    with pytest.raises(InputError):
        parse_grid(bad)
