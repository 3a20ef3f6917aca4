import pytest

from reidbench.errors import RegistryError, ReidbenchError, describe
from reidbench.registry import Registry, resolve_target


def test_describe_has_the_one_message_style():
    msg = describe("features", "x.npz", "shape (N, D)", (3,), "save a 2-D array")
    assert msg == "features in x.npz: expected shape (N, D), got (3,). Save a 2-D array."


def test_registry_lazy_target_resolves_once():
    r = Registry("thing")
    r.register("sqrt", "math:sqrt")
    assert r.get("sqrt")(9.0) == 3.0
    assert "sqrt" in r and len(r) == 1


def test_registry_refuses_duplicates_and_suggests():
    r = Registry("thing")
    r.register("noninterp", 1)
    with pytest.raises(RegistryError, match="already registered"):
        r.register("noninterp", 2)
    with pytest.raises(RegistryError, match="Did you mean 'noninterp'"):
        r.get("nonintrep")


def test_registry_decorator_and_base_check():
    r = Registry("model", base=int)
    r.register("one")(1)
    assert r.get("one") == 1
    with pytest.raises(RegistryError, match="expected a int"):
        r.register("bad", "x")  # lazy strings without ':' are stored as objects -> checked
    r2 = Registry("model", base=float)
    r2.register("lazy", "math:sqrt")
    with pytest.raises(RegistryError):
        r2.get("lazy")


def test_registry_freeze():
    r = Registry("thing")
    r.freeze()
    with pytest.raises(RegistryError, match="frozen"):
        r.register("a", 1)


def test_resolve_target_errors_are_reidbench_errors():
    with pytest.raises(ReidbenchError, match="importable module"):
        resolve_target("no_such_module_xyz:thing")
    with pytest.raises(ReidbenchError, match="define"):
        resolve_target("math:no_such_attr")
    with pytest.raises(ReidbenchError, match="package.module:attr"):
        resolve_target("math.sqrt")
