"""Load xlwings' classic (Windows/COM) UDF machinery on Linux, for tests and the add-in build.

Why this exists
---------------
The shipped product does not need this module: on Windows, ``import xlwings`` registers the
Windows engine (``xlwings._xlwindows``), binds ``xw.func`` / ``xw.arg`` / ``xw.ret`` to the
real decorators of ``xlwings.udfs``, and Excel calls our UDFs through
``xlwings.com_server.XLPython.CallUDF`` -> ``xlwings.udfs.call_udf``.

On Linux none of that happens: ``xlwings.udfs``, ``xlwings._xlwindows`` and
``xlwings.com_server`` import pywin32 (``pythoncom``, ``pywintypes``, ``win32api``,
``win32com.client``, ...) and ctypes' Windows-only loaders (``ctypes.windll``,
``ctypes.oledll``), and ``xw.func`` & co. are no-ops that attach no ``__xlfunc__``
metadata. This module makes those xlwings modules importable here so that we can

* build the add-in's VBA wrappers with xlwings' own ``generate_vba_wrapper``, and
* test our UDFs through xlwings' own metadata and conversion code (``xlwings.conversion``
  with the Windows engine's converters) instead of a re-implementation of it.

How
---
:func:`load_xlwings_udfs` puts *inert* stand-ins for the pywin32 modules into
``sys.modules`` (only for modules that are absent and not importable) and, just for the
duration of the import, adds ``ctypes.windll`` / ``oledll`` / ``WinDLL`` / ``OleDLL`` /
``WINFUNCTYPE`` and wraps ``ctypes.PyDLL``; ctypes is restored afterwards, also when the
import fails. The stand-ins carry only what xlwings needs at import time and what its
conversion code relies on, faithfully typed: ``pywintypes.TimeType`` is a ``datetime``
subclass (as in pywin32), ``pywintypes.com_error`` an exception class,
``win32timezone.TimeZoneInfo.utc()`` a UTC tzinfo. Everything that would need Windows, COM
or Excel raises :class:`WindowsOnlyError` (or ``AttributeError`` for names the stand-ins do
not define); nothing pretends to be Excel.

:func:`use_windows_engine` then does what ``xlwings/__init__.py`` does on Windows: register
and activate the ``excel`` engine and bind the real UDF decorators. UDF modules must be
imported *after* it (or reloaded), otherwise their ``@xw.func`` was the Linux no-op.

:func:`call_like_excel` replays one UDF call the way Excel does it, by calling
``xlwings.com_server.XLPython().CallUDF`` (-> ``xlwings.udfs.call_udf``) itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import importlib
import importlib.machinery
import importlib.util
import io
import itertools
import sys
import threading
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "COM_ERRORS",
    "MISSING_ARG",
    "WindowsOnlyError",
    "call_like_excel",
    "load_xlwings_udfs",
    "udf_vba_module_text",
    "use_windows_engine",
]

#: What VBA hands over for an omitted ``Optional`` argument (DISP_E_PARAMNOTFOUND); pywin32
#: delivers it as this int and ``xlwings.udfs.call_udf`` replaces it by the default.
MISSING_ARG = -2147352572

#: Excel cell errors as COM delivers them (VT_ERROR scodes, as ints), by their cell text.
#: Same table as ``xlwings._xlwindows.cell_errors``, keyed the other way round.
COM_ERRORS: dict[str, int] = {
    "#DIV/0!": -2146826281,
    "#N/A": -2146826246,
    "#NAME?": -2146826259,
    "#NULL!": -2146826288,
    "#NUM!": -2146826252,
    "#REF!": -2146826265,
    "#VALUE!": -2146826273,
}

_STANDIN_MARK = "__xl_segments_standin__"
_STANDIN_ORIGIN = "xl_segments.xlwings_compat (inert pywin32 stand-in)"
_PYTHONCOM_FILE = "<xl_segments inert stand-in for pythoncom>"
_LOCK = threading.RLock()
_importing = threading.local()


class WindowsOnlyError(NotImplementedError):
    """Raised by the pywin32 / ctypes stand-ins for anything that needs Windows, COM or Excel."""


def _unavailable(qualname: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise WindowsOnlyError(
            f"{qualname} needs Windows/COM; this is xl_segments' inert pywin32 stand-in"
        )

    call.__name__ = call.__qualname__ = qualname.rsplit(".", 1)[-1]
    return call


def _noop(*args: Any, **kwargs: Any) -> None:
    """CoInitialize & co.: there is no COM apartment to set up here, so nothing to do."""


# --------------------------------------------------------------------------- stand-ins


class _TimeType(dt.datetime):
    """Stand-in for ``pywintypes.TimeType``: like pywin32's, a ``datetime`` subclass.

    pywin32 hands date cells over as instances of it, timezone-aware in UTC.
    """

    def Format(self, fmt: str = "%c") -> str:  # pywin32's method name
        return self.strftime(fmt)


_TimeType.__name__ = _TimeType.__qualname__ = "datetime"
_TimeType.__module__ = "pywintypes"


def _make_time(value: Any) -> _TimeType:
    """Stand-in for ``pywintypes.Time``: a datetime, a POSIX timestamp or a time tuple."""
    if isinstance(value, dt.datetime):
        base = value
    elif isinstance(value, (int, float)):
        base = dt.datetime.fromtimestamp(value)
    else:
        base = dt.datetime(*tuple(value)[:6])
    return _TimeType(
        base.year,
        base.month,
        base.day,
        base.hour,
        base.minute,
        base.second,
        base.microsecond,
        tzinfo=base.tzinfo,
    )


class _ComError(Exception):
    """Stand-in for ``pywintypes.com_error``: args are (hresult, strerror, excepinfo, argerror)."""

    @property
    def hresult(self) -> Any:
        return self.args[0] if self.args else None

    @property
    def strerror(self) -> Any:
        return self.args[1] if len(self.args) > 1 else None

    @property
    def excepinfo(self) -> Any:
        return self.args[2] if len(self.args) > 2 else None

    @property
    def argerror(self) -> Any:
        return self.args[3] if len(self.args) > 3 else None


_ComError.__name__ = _ComError.__qualname__ = "com_error"
_ComError.__module__ = "pywintypes"


class _Win32Error(Exception):
    """Stand-in for ``pywintypes.error``: args are (winerror, funcname, strerror)."""

    @property
    def winerror(self) -> Any:
        return self.args[0] if self.args else None


_Win32Error.__name__ = _Win32Error.__qualname__ = "error"
_Win32Error.__module__ = "pywintypes"


def _make_iid(iid: Any, is_bytes: bool = False) -> uuid.UUID:
    """Stand-in for ``pywintypes.IID``: a GUID value (compares case-insensitively, hashable)."""
    if is_bytes:
        return uuid.UUID(bytes_le=bytes(iid))
    return uuid.UUID(str(iid))


class _PyIDispatch:
    """Stand-in for pywin32's PyIDispatch type; never instantiated (there are no COM objects)."""


class _DispatchBase:
    """Stand-in base for ``win32com.client.CDispatch`` / ``DispatchBaseClass`` / ...

    Nothing here ever creates one, so ``isinstance`` checks against them are simply False.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise WindowsOnlyError("COM dispatch objects need Windows/COM")


class _TimeZoneInfo(dt.tzinfo):
    """Stand-in for ``win32timezone.TimeZoneInfo``; only ``utc()`` is provided."""

    @staticmethod
    def utc() -> dt.tzinfo:
        # pywin32 returns a TimeZoneInfo with a zero offset; xlwings only uses it to tag
        # naive datetimes as UTC before handing them to COM.
        return dt.timezone.utc


class _COMException(_ComError):
    """Stand-in for ``win32com.server.exception.COMException``."""

    def __init__(
        self, description: Any = None, scode: Any = None, source: Any = None, **kw: Any
    ) -> None:
        super().__init__(scode, description, None, None)
        self.description = description
        self.scode = scode
        self.source = source


class _DefaultPolicy:
    """Stand-in for ``win32com.server.policy.DefaultPolicy`` (only ever subclassed)."""


def _unwrap(ob: Any) -> Any:
    """Stand-in for ``win32com.server.util.unwrap``.

    Like pywin32's (``pythoncom.UnwrapObject``) it refuses anything that is not a wrapped
    Python COM object - and here nothing is - so ``XLPython.CallUDF``'s ``FromVariant``
    passes plain values through unchanged, exactly as it does for VARIANT values in Excel.
    """
    raise TypeError("not a wrapped Python COM object (xl_segments' inert pywin32 stand-in)")


class _StandinModule(types.ModuleType):
    """A stand-in module: unknown attributes raise AttributeError naming the stand-in."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        raise AttributeError(
            f"{self.__name__}.{attr} is not available: this is xl_segments' inert "
            "pywin32 stand-in (no Windows/COM on this machine)"
        )


def _standin(name: str, attrs: dict[str, Any], *, package: bool = False) -> types.ModuleType:
    module = _StandinModule(name, f"Inert stand-in for pywin32's {name} (see {__name__}).")
    spec = importlib.machinery.ModuleSpec(name, None, origin=_STANDIN_ORIGIN)
    if package:
        spec.submodule_search_locations = []
        module.__path__ = []
    module.__spec__ = spec
    module.__package__ = name if package else name.rpartition(".")[0]
    setattr(module, _STANDIN_MARK, True)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def _build_standins() -> dict[str, types.ModuleType]:
    """The pywin32 modules that xlwings.udfs / _xlwindows / _win32patch / com_server import."""
    iid_dispatch = _make_iid("{00020400-0000-0000-C000-000000000046}")
    iid_enum_variant = _make_iid("{00020404-0000-0000-C000-000000000046}")
    mods: dict[str, types.ModuleType] = {}
    mods["pywintypes"] = _standin(
        "pywintypes",
        {
            "TimeType": _TimeType,
            "datetime": _TimeType,
            "Time": _make_time,
            "com_error": _ComError,
            "error": _Win32Error,
            "IID": _make_iid,
        },
    )
    mods["pythoncom"] = _standin(
        "pythoncom",
        {
            "__file__": _PYTHONCOM_FILE,
            "com_error": _ComError,
            "ole_error": _ComError,
            "TimeType": _TimeType,
            "IID_IDispatch": iid_dispatch,
            "IID_IEnumVARIANT": iid_enum_variant,
            "TypeIIDs": {iid_dispatch: _PyIDispatch},
            "CoInitialize": _noop,
            "CoInitializeEx": _noop,
            "CoUninitialize": _noop,
            "DISPATCH_METHOD": 1,
            "DISPATCH_PROPERTYGET": 2,
            "DISPATCH_PROPERTYPUT": 4,
            "CLSCTX_LOCAL_SERVER": 4,
            "REGCLS_MULTIPLEUSE": 1,
            "REGCLS_SUSPENDED": 4,
            **{
                name: _unavailable(f"pythoncom.{name}")
                for name in (
                    "CoMarshalInterThreadInterfaceInStream",
                    "CoGetInterfaceAndReleaseStream",
                    "CoRegisterClassObject",
                    "CoRevokeClassObject",
                    "CoResumeClassObjects",
                    "EnableQuitMessage",
                    "MakePyFactory",
                    "PumpWaitingMessages",
                    "UnwrapObject",
                    "new",
                )
            },
        },
    )
    for name in ("win32api", "win32con", "win32gui", "win32process", "win32event"):
        mods[name] = _standin(name, {})
    mods["win32timezone"] = _standin("win32timezone", {"TimeZoneInfo": _TimeZoneInfo})

    client_classes = {
        cls_name: type(cls_name, (_DispatchBase,), {"__module__": "win32com.client"})
        for cls_name in ("CDispatch", "CoClassBaseClass", "DispatchBaseClass")
    }
    mods["win32com.client"] = _standin(
        "win32com.client",
        {
            **client_classes,
            "Dispatch": _unavailable("win32com.client.Dispatch"),
            "DispatchEx": _unavailable("win32com.client.DispatchEx"),
            "GetObject": _unavailable("win32com.client.GetObject"),
        },
        package=True,
    )
    mods["win32com.server.exception"] = _standin(
        "win32com.server.exception", {"COMException": _COMException}
    )
    mods["win32com.server.util"] = _standin(
        "win32com.server.util",
        {
            "wrap": _unavailable("win32com.server.util.wrap"),
            "unwrap": _unwrap,
            "exception": mods["win32com.server.exception"],
        },
    )
    mods["win32com.server.policy"] = _standin(
        "win32com.server.policy", {"DefaultPolicy": _DefaultPolicy}
    )
    mods["win32com.server.dispatcher"] = _standin("win32com.server.dispatcher", {})
    mods["win32com.server"] = _standin(
        "win32com.server",
        {
            "exception": mods["win32com.server.exception"],
            "util": mods["win32com.server.util"],
            "policy": mods["win32com.server.policy"],
            "dispatcher": mods["win32com.server.dispatcher"],
        },
        package=True,
    )
    mods["win32com"] = _standin(
        "win32com",
        {"client": mods["win32com.client"], "server": mods["win32com.server"]},
        package=True,
    )
    return mods


def _is_importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _install_standins() -> list[str]:
    """Put stand-ins into sys.modules where the real module is absent; return their names."""
    installed = []
    for name, module in _build_standins().items():
        if name in sys.modules:
            continue
        top = name.partition(".")[0]
        if top not in installed and _is_importable(top):
            continue  # the real pywin32 is there: never shadow it
        sys.modules[name] = module
        installed.append(name)
    return installed


def is_standin(module: object) -> bool:
    """True for a module object created by this file as a pywin32 stand-in."""
    return bool(getattr(module, "__dict__", {}).get(_STANDIN_MARK, False))


# --------------------------------------------------------------------------- ctypes patch


class _InertFunction:
    """A DLL function stand-in: callable only while xlwings is being imported.

    ``xlwings._xlwindows`` calls ``oledll.ole32.CLSIDFromString`` at import time (to fill a
    GUID only used to attach to a running Excel) and sets ``restype`` on a PyDLL function.
    Those are accepted and do nothing; any later call raises :class:`WindowsOnlyError`.
    """

    def __init__(self, qualname: str) -> None:
        self.__name__ = qualname
        self.restype: Any = None
        self.argtypes: Any = None
        self.errcheck: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if not getattr(_importing, "active", False):
            raise WindowsOnlyError(f"{self.__name__} is a Windows DLL function")


class _InertDLL:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _InertFunction(f"{self._name}.{attr}")


class _InertLoader:
    """Stand-in for ``ctypes.windll`` / ``ctypes.oledll``: ``loader.ole32`` is an inert DLL."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _InertDLL(f"{self._name}.{attr}")

    def LoadLibrary(self, name: str) -> _InertDLL:  # ctypes' method name
        return _InertDLL(f"{self._name}.{name}")


@contextlib.contextmanager
def _patched_ctypes() -> Iterator[None]:
    """Add ctypes' Windows-only loaders and wrap PyDLL for the import; always restore."""
    absent = object()
    real_pydll = ctypes.PyDLL

    def pydll(name: Any, *args: Any, **kwargs: Any) -> Any:
        if name == _PYTHONCOM_FILE:  # _xlwindows: PyDLL(pythoncom.__file__)
            return _InertDLL("pythoncom")
        return real_pydll(name, *args, **kwargs)

    def win_dll(name: Any, *args: Any, **kwargs: Any) -> _InertDLL:
        return _InertDLL(str(name))

    patch: dict[str, Any] = {
        "windll": _InertLoader("windll"),
        "oledll": _InertLoader("oledll"),
        "WinDLL": win_dll,
        "OleDLL": win_dll,
        "WINFUNCTYPE": _unavailable("ctypes.WINFUNCTYPE"),
        "PyDLL": pydll,
    }
    saved = {name: ctypes.__dict__.get(name, absent) for name in patch}
    try:
        for name, value in patch.items():
            if name == "PyDLL" or saved[name] is absent:
                setattr(ctypes, name, value)
        _importing.active = True
        yield
    finally:
        _importing.active = False
        for name, value in saved.items():
            if value is absent:
                ctypes.__dict__.pop(name, None)
            else:
                setattr(ctypes, name, value)


# --------------------------------------------------------------------------- public API


def load_xlwings_udfs() -> types.ModuleType:
    """Return the real ``xlwings.udfs`` module, importable on any platform.

    On Windows this is a plain import. Elsewhere it installs the inert pywin32 stand-ins
    (only where the real modules are absent) and imports ``xlwings._xlwindows``,
    ``xlwings.udfs`` and ``xlwings.com_server`` with ctypes' Windows loaders patched in,
    restoring ctypes afterwards. Idempotent.
    """
    if sys.platform.startswith("win"):
        return importlib.import_module("xlwings.udfs")
    with _LOCK:
        loaded = sys.modules.get("xlwings.udfs")
        if loaded is not None and "xlwings.com_server" in sys.modules:
            return loaded
        installed = _install_standins()
        try:
            with _patched_ctypes():
                importlib.import_module("xlwings._xlwindows")
                udfs = importlib.import_module("xlwings.udfs")
                importlib.import_module("xlwings.com_server")
        except BaseException:
            for name in installed:
                sys.modules.pop(name, None)
            raise
        return udfs


def use_windows_engine() -> None:
    """Make xlwings behave as it does on Windows with pywin32, as far as UDFs are concerned.

    Mirrors ``xlwings/__init__.py``'s Windows branch: registers ``xlwings._xlwindows.engine``
    as the ``excel`` engine and makes it active (so ``xlwings.conversion`` uses its
    ``clean_value_data`` / ``prepare_xl_data_element``: pywintypes times, COM error ints),
    and binds ``xw.func``, ``xw.arg``, ``xw.ret``, ``xw.script``, ``xw.sub`` and
    ``xw.get_udf_module`` to ``xlwings.udfs``. (``xw.serve`` / ``xw.import_udfs`` stay
    unavailable: they need a COM server / a live workbook.) Idempotent.

    Modules using ``@xw.func`` must be imported after this call (or reloaded): on Linux,
    xlwings' own ``xw.func`` is a no-op that attaches no ``__xlfunc__``.
    """
    udfs = load_xlwings_udfs()
    import xlwings
    import xlwings._xlwindows as xlwindows

    with _LOCK:
        engines: Any = xlwings.engines
        current = engines.engines_by_name.get("excel")
        if current is None or current.impl is not xlwindows.engine:
            engine = xlwings.Engine(impl=xlwindows.engine)
            if current is not None:
                engines.engines.remove(current)
            engines.add(engine)
        engines.active = engines["excel"]
        bindings = {
            "func": udfs.xlfunc,
            "arg": udfs.xlarg,
            "ret": udfs.xlret,
            "script": udfs.xlsub,
            "sub": udfs.xlsub,
            "get_udf_module": udfs.get_udf_module,
        }
        for name, value in bindings.items():
            setattr(xlwings, name, value)


_call_ids = itertools.count(1)


def call_like_excel(func: Callable[..., Any], *com_args: Any) -> Any:
    """Call an ``@xw.func`` UDF the way Excel + xlwings' VBA wrapper do; return what Excel gets.

    ``com_args`` are the values as pywin32 delivers them: a multi-cell range as a tuple of
    row tuples (also a one-row range), a single cell as a scalar, numbers as floats, dates
    as ``pywintypes.TimeType``, blanks as ``None``, error cells as COM error ints (see
    :data:`COM_ERRORS`). Omitted trailing ``Optional`` arguments are passed as
    :data:`MISSING_ARG`, as the VBA wrapper does; pass it explicitly to skip a middle one.

    The call goes through ``xlwings.com_server.XLPython().CallUDF(module, name, args)``,
    i.e. xlwings' own ``call_udf`` (metadata, ``conversion.read(None, value, options)`` per
    argument, defaults for missing optionals, the call, ``conversion.write(ret, None,
    options)``) and CallUDF's unwrapping of a 1x1 result to a scalar and of a 1xN result to
    a flat list. It is the VBA wrapper's call without workbook and caller (its ``#Else``
    branch); features that need the calling cell - legacy ``expand`` dynamic arrays, a
    ``caller`` argument, ``async_mode`` - raise NotImplementedError. Exceptions raised by
    the UDF propagate unchanged (in Excel the cell shows pywin32's error text).

    The function is served from a throwaway module (xlwings looks UDFs up by module name),
    so functions defined inside tests work too.
    """
    use_windows_engine()
    import xlwings.com_server as com_server
    import xlwings.udfs as udfs

    info = getattr(func, "__xlfunc__", None)
    if info is None:
        raise TypeError(
            f"{getattr(func, '__name__', func)!r} has no __xlfunc__ metadata: decorate it with "
            "xw.func after use_windows_engine() (on Linux xlwings' own xw.func is a no-op)"
        )
    if info["ret"]["options"].get("expand"):
        raise NotImplementedError("legacy 'expand' dynamic arrays resize the calling cells")
    if info.get("async_mode"):
        raise NotImplementedError("async_mode UDFs write back to the calling cell later")
    if any(arg["name"] == "caller" for arg in info["args"]):
        raise NotImplementedError("a 'caller' argument is the calling Excel Range (COM)")

    args_info = info["args"]
    fixed = [arg for arg in args_info if not arg["vararg"]]
    has_vararg = len(fixed) != len(args_info)
    args = list(com_args)
    if len(args) > len(fixed) and not has_vararg:
        raise TypeError(f"{info['name']} takes at most {len(fixed)} arguments in Excel")
    for arg in fixed[len(args) :]:
        if "optional" not in arg:
            raise TypeError(f"Excel rejects the formula: {info['name']} needs {arg['name']!r}")
        args.append(MISSING_ARG)

    module_name = f"_xl_segments_udf_call_{next(_call_ids)}"
    module = types.ModuleType(module_name)
    module.__file__ = f"<{module_name}>"  # not on disk: xlwings marks it not reloadable
    setattr(module, info["name"], func)
    sys.modules[module_name] = module
    try:
        return com_server.XLPython().CallUDF(module_name, info["name"], tuple(args))
    finally:
        udfs.udf_modules.pop(module_name, None)
        sys.modules.pop(module_name, None)


def udf_vba_module_text(
    module: types.ModuleType,
    module_name: str | None = None,
    *,
    workbook_name: str = "xl_segments.xlam",
) -> str:
    """The ``xlwings_udfs`` VBA module text that "Import Functions" would import into Excel.

    Writes the three header lines ``xlwings.udfs.import_udfs`` writes, then calls
    ``xlwings.udfs.generate_vba_wrapper(module_name, module, f, xl_workbook)``. That function
    only reads ``xl_workbook.Name`` (an ``.xlam`` name makes the wrappers pass
    ``ActiveWorkbook`` instead of ``ThisWorkbook``), so a plain object carrying the name is
    passed for it.
    """
    udfs = load_xlwings_udfs()
    from xlwings.utils import VBAWriter

    buffer = io.StringIO()
    vba = VBAWriter(buffer)
    vba.writeln('Attribute VB_Name = "xlwings_udfs"')
    vba.writeln("'Autogenerated code by xlwings - changes will be lost with next import!")
    vba.writeln("""#Const App = "Microsoft Excel" 'Adjust when using outside of Excel""")
    workbook = types.SimpleNamespace(Name=workbook_name)
    udfs.generate_vba_wrapper(module_name or module.__name__, module, buffer, workbook)
    return buffer.getvalue()


_BOUND_NAMES = ("func", "arg", "ret", "script", "sub", "get_udf_module")


@contextlib.contextmanager
def windows_engine() -> Iterator[types.ModuleType]:
    """use_windows_engine() for the duration of a block; xlwings' engines and decorators are
    put back afterwards (tests use this so one test module's Windows mode does not leak)."""
    import xlwings

    saved_attrs = {name: getattr(xlwings, name) for name in _BOUND_NAMES}
    engines: Any = xlwings.engines
    saved_engines = (list(engines.engines), dict(engines.engines_by_name), engines.active)
    use_windows_engine()
    try:
        yield xlwings
    finally:
        engines.engines[:] = saved_engines[0]
        engines.engines_by_name.clear()
        engines.engines_by_name.update(saved_engines[1])
        engines.active = saved_engines[2]
        for name, value in saved_attrs.items():
            setattr(xlwings, name, value)
