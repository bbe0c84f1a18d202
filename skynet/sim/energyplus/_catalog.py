"""What the installed EnergyPlus package ships: its engine, prototype buildings and weather.

``pip install skynet[energyplus]`` brings PyPI's ``pyenergyplus-lbnl``: the EnergyPlus engine
as a shared library (``libenergyplusapi.so`` beside the ``pyenergyplus`` package), the U.S.
DOE commercial prototype buildings (ASHRAE 90.1-2019, Denver; and the 2004 reference
buildings, Chicago) as IDF files under ``pyenergyplus/data/model``, and TMY3 weather files of
U.S. cities under ``pyenergyplus/data/weather``. Nothing here imports the engine itself: the
package is located with :func:`importlib.util.find_spec`, so listing is cheap.

Buildings are named like ``apartment-midrise`` (ASHRAE 90.1-2019 prototypes) or
``apartment-midrise-2004`` (DOE 2004 reference buildings); cities like ``miami`` or
``las-vegas``, from the TMY3 file names.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skynet.errors import DataError, SkynetError

__all__ = [
    "EnergyPlusError",
    "Building",
    "WeatherFile",
    "package_dir",
    "buildings",
    "weather_files",
    "resolve_building",
    "resolve_weather",
    "INSTALL_HINT",
]

INSTALL_HINT = "pip install 'skynet[energyplus]'"

# The prototypes' building types, by the CamelCase part of their file names.
_ASHRAE_NAMES = {
    "ApartmentHighRise": "apartment-highrise",
    "ApartmentMidRise": "apartment-midrise",
    "Hospital": "hospital",
    "HotelLarge": "hotel-large",
    "HotelSmall": "hotel-small",
    "OfficeLarge": "office-large",
    "OfficeMedium": "office-medium",
    "OfficeSmall": "office-small",
    "OutPatientHealthCare": "outpatient",
    "RestaurantFastFood": "restaurant-fastfood",
    "RestaurantSitDown": "restaurant-sitdown",
    "RetailStandalone": "retail-standalone",
    "RetailStripmall": "retail-stripmall",
    "SchoolPrimary": "school-primary",
    "SchoolSecondary": "school-secondary",
    "Warehouse": "warehouse",
}
_REF_NAMES = {
    "FullServiceRestaurant": "restaurant-sitdown",
    "Hospital": "hospital",
    "LargeHotel": "hotel-large",
    "LargeOffice": "office-large",
    "MediumOffice": "office-medium",
    "MidriseApartment": "apartment-midrise",
    "OutPatient": "outpatient",
    "PrimarySchool": "school-primary",
    "QuickServiceRestaurant": "restaurant-fastfood",
    "SecondarySchool": "school-secondary",
    "SmallHotel": "hotel-small",
    "SmallOffice": "office-small",
    "Stand-aloneRetail": "retail-standalone",
    "StripMall": "retail-stripmall",
    "SuperMarket": "supermarket",
    "Warehouse": "warehouse",
}
# Words that start the airport / station part of a TMY3 city field ("Miami.Intl.AP").
_STATION_WORDS = {"intl", "ap", "air", "terminal", "afb", "field", "arpt", "rgnl", "muni", "county", "co"}


class EnergyPlusError(SkynetError):
    """EnergyPlus is missing, or a simulation failed (the message says why, in one line)."""


@dataclass(frozen=True)
class Building:
    """A prototype building model shipped with the EnergyPlus package."""

    name: str
    path: Path
    standard: str  # "ASHRAE 90.1-2019" or "DOE reference 2004"
    climate_city: str  # the city the prototype was sized for


@dataclass(frozen=True)
class WeatherFile:
    """A TMY3 weather file shipped with the EnergyPlus package."""

    city: str
    state: str
    station: str
    path: Path


def package_dir() -> Path:
    """Directory of the installed ``pyenergyplus`` package.

    Raises:
        EnergyPlusError: the ``energyplus`` extra is not installed.
    """
    try:
        spec = importlib.util.find_spec("pyenergyplus")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EnergyPlusError(f"EnergyPlus is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def buildings() -> dict[str, Building]:
    """The shipped prototype buildings by name, ASHRAE 90.1-2019 ones first.

    Raises:
        EnergyPlusError: the ``energyplus`` extra is not installed.
    """
    found: dict[str, Building] = {}
    models = sorted((package_dir() / "data" / "model").glob("*.idf"))
    for path in models:
        match = re.fullmatch(r"ASHRAE901_(\w+?)_STD(\d{4})_(\w+)", path.stem)
        if match:
            name = _ASHRAE_NAMES.get(match[1], _slug(match[1]))
            found[name] = Building(name, path, f"ASHRAE 90.1-{match[2]}", match[3])
    for path in models:
        match = re.fullmatch(r"RefBldg(.+?)New(\d{4})_(\w+)", path.stem)
        if match:
            name = f"{_REF_NAMES.get(match[1], _slug(match[1]))}-{match[2]}"
            found[name] = Building(name, path, f"DOE reference {match[2]}", match[3])
    return found


def weather_files() -> dict[str, WeatherFile]:
    """The shipped TMY3 weather files by city name (``miami``, ``las-vegas``, ...).

    Raises:
        EnergyPlusError: the ``energyplus`` extra is not installed.
    """
    found: dict[str, WeatherFile] = {}
    for path in sorted((package_dir() / "data" / "weather").glob("*.epw")):
        parts = path.stem.split("_")
        if len(parts) < 3:
            continue
        state, place = parts[1], parts[2]
        station = re.sub(r"\.\d{6}$", "", place)
        words = []
        for word in station.split("-")[0].split("."):
            if word.lower() in _STATION_WORDS and words:
                break
            words.append(word)
        city = _slug(" ".join(words))
        if city in found:  # two stations of one city: qualify by state
            city = f"{city}-{state.lower()}"
        found[city] = WeatherFile(city, state, station.replace(".", " "), path)
    return found


def resolve_building(building: str | Path) -> tuple[str, Path]:
    """A building name or the path of an IDF file -> (name, path).

    Raises:
        DataError: an unknown name or a missing file (the message lists known names).
        EnergyPlusError: the extra is not installed and a name was given.
    """
    return _resolve(
        building, ".idf", "building model", "building", lambda: {n: b.path for n, b in buildings().items()}
    )


def resolve_weather(weather: str | Path) -> tuple[str, Path]:
    """A city name (``miami``, ``usa_fl_miami``) or the path of an EPW file -> (city name, path).

    Raises:
        DataError: an unknown city (the message lists the known ones) or a missing file.
        EnergyPlusError: the extra is not installed and a city was given.
    """

    files: dict[str, WeatherFile] = {}

    def known() -> dict[str, Path]:
        files.update(weather_files())
        by_name = {c: w.path for c, w in files.items()}
        by_name.update(
            {f"usa-{w.state.lower()}-{c}": w.path for c, w in files.items()}
        )  # pyenergyplus's keys
        return by_name

    name, path = _resolve(weather, ".epw", "weather file", "weather city", known)
    return next((c for c, w in files.items() if w.path == path), name), path


def _resolve(value: str | Path, suffix: str, file_what: str, name_what: str,
             known: Callable[[], dict[str, Path]]) -> tuple[str, Path]:  # fmt: skip
    """A name among ``known()`` or the path of a ``suffix`` file -> (name, path)."""
    text = str(value)
    if text.lower().endswith(suffix) or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise DataError(f"{file_what} not found: {path}")
        return _slug(path.stem), path
    names = known()
    key = _slug(text)
    if key not in names:
        listed = ", ".join(n for n in names if not n.startswith("usa-"))
        raise DataError(f"unknown {name_what} {text!r}; known: {listed} (or the path of a {suffix} file)")
    return key, names[key]


def _slug(text: str) -> str:
    """``"San Francisco"`` -> ``"san-francisco"``; ``"G SW Apartment"`` -> ``"g-sw-apartment"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
