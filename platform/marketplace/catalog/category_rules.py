"""What the catalog generator knows of each category beyond its schema: plausibility and titles.

A category's spec (`taxonomy.CategorySpec`) names its rules: `fix_up` makes combinations of drawn
attribute values physically plausible (wired headphones have no battery, ...), and `make_title`
writes a marketplace-style title from the brand, line and model (`head`) and the features that
sell it. The generator applies them without knowing any category. Every draw a rule makes from
`rng` is part of the catalog's random stream, so a rule's order of draws is part of the seed's
catalog.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

AttrValue = bool | int | float | str

# Changes a product's drawn attributes in place.
FixUp = Callable[[dict[str, AttrValue], random.Random], None]
# The title from `head` and the attributes (floats already written out, as in "13.3").
TitleMaker = Callable[[str, Mapping[str, AttrValue]], str]


def _cap(text: object) -> str:
    # str.title() would turn "TPU" into "Tpu"; only the first letter should change.
    value = str(text)
    return value[:1].upper() + value[1:]


# --- fix-ups ------------------------------------------------------------------------------------


def fix_up_headphones(attrs: dict[str, AttrValue], rng: random.Random) -> None:
    if attrs["form"] == "in-ear":
        attrs["weight_g"] = max(4, int(int(attrs["weight_g"]) * 0.15))
        attrs["driver_mm"] = min(int(attrs["driver_mm"]), 12)
    elif attrs["form"] == "on-ear":
        attrs["weight_g"] = int(int(attrs["weight_g"]) * 0.7)
    if not attrs["wireless"]:
        attrs["battery_hours"] = 0


def fix_up_tents(attrs: dict[str, AttrValue], rng: random.Random) -> None:
    capacity = int(attrs["capacity"])
    factor = 0.55 + 0.3 * capacity + (0.4 if attrs["season"] == "4-season" else 0.0)
    attrs["weight_kg"] = round(float(attrs["weight_kg"]) * factor, 1)


def fix_up_coffee_makers(attrs: dict[str, AttrValue], rng: random.Random) -> None:
    kind = attrs["type"]
    if kind != "espresso":
        attrs["pressure_bar"] = 0
    else:
        attrs["pressure_bar"] = max(9, int(attrs["pressure_bar"]))
        attrs["capacity_cups"] = min(int(attrs["capacity_cups"]), 2)
    if kind in ("french press", "pod"):
        attrs["built_in_grinder"] = False
    if kind == "french press":
        attrs["programmable"] = False
        attrs["wattage"] = 0


def fix_up_laptops(attrs: dict[str, AttrValue], rng: random.Random) -> None:
    extra = (float(attrs["screen_in"]) - 13.3) * 0.25
    attrs["weight_kg"] = round(float(attrs["weight_kg"]) + extra, 2)


def fix_up_vacuum_cleaners(attrs: dict[str, AttrValue], rng: random.Random) -> None:
    if attrs["type"] in ("stick", "robot"):
        attrs["cordless"] = True
    if attrs["type"] == "robot":
        attrs["weight_kg"] = round(min(float(attrs["weight_kg"]), 4.0), 1)


def fix_up_kids_toys(attrs: dict[str, AttrValue], rng: random.Random) -> None:
    kind = attrs["toy_type"]
    if kind in ("plush", "ride-on"):
        attrs["pieces"] = 1 if kind == "plush" else rng.randint(1, 4)
    elif kind == "puzzle":
        attrs["pieces"] = rng.choice((24, 48, 100, 300, 500, 1000))
    if kind == "plush":
        attrs["material"] = "fabric"
        attrs["battery_powered"] = False


# --- titles -------------------------------------------------------------------------------------


def title_headphones(head: str, a: Mapping[str, AttrValue]) -> str:
    form = {"in-ear": "In-Ear", "on-ear": "On-Ear", "over-ear": "Over-Ear"}[str(a["form"])]
    words = ["Wireless" if a["wireless"] else "Wired"]
    if a["noise_cancelling"]:
        words.append("Noise-Cancelling")
    title = f"{head} {' '.join(words)} {form} Headphones"
    return title + (f", {a['battery_hours']}h Battery" if a["wireless"] else ", 3.5mm Jack")


def title_running_shoes(head: str, a: Mapping[str, AttrValue]) -> str:
    extra = " Waterproof" if a["waterproof"] else ""
    plate = " Carbon-Plated" if a["carbon_plate"] else ""
    terrain = _cap(a["terrain"])
    cushion = _cap(a["cushioning"])
    return f"{head}{plate}{extra} {terrain} Running Shoes, {cushion} Cushioning, {a['weight_g']}g"


def title_tents(head: str, a: Mapping[str, AttrValue]) -> str:
    kind = "Freestanding " if a["freestanding"] else ""
    return (
        f"{head} {a['capacity']}-Person {str(a['season']).title()} {kind}Tent, "
        f"{a['waterproof_mm']}mm Waterproof, {a['weight_kg']} kg"
    )


def title_coffee_makers(head: str, a: Mapping[str, AttrValue]) -> str:
    kind = str(a["type"])
    if kind == "espresso":
        core = f"Espresso Machine {a['pressure_bar']} Bar"
    elif kind == "pod":
        core = "Single-Serve Pod Coffee Maker"
    elif kind == "french press":
        core = f"French Press Coffee Maker, {a['capacity_cups']} Cups"
    else:
        core = f"{a['capacity_cups']}-Cup Drip Coffee Maker"
    grinder = " with Built-In Grinder" if a["built_in_grinder"] else ""
    timer = ", Programmable" if a["programmable"] else ""
    return f"{head} {core}{grinder}{timer}"


def title_laptops(head: str, a: Mapping[str, AttrValue]) -> str:
    return (
        f"{head} {a['screen_in']}-inch Laptop, {a['cpu']}, {a['ram_gb']}GB RAM, "
        f"{a['storage_gb']}GB SSD, {a['battery_hours']}h Battery"
    )


def title_backpacks(head: str, a: Mapping[str, AttrValue]) -> str:
    feats = [f for f, on in (("Waterproof", a["waterproof"]), ("Laptop", a["laptop_sleeve"])) if on]
    return f"{head} {a['volume_l']}L {' '.join(feats)} Backpack".replace("  ", " ") + (
        ", Padded Hip Belt" if a["hip_belt"] else ""
    )


def title_office_chairs(head: str, a: Mapping[str, AttrValue]) -> str:
    back = "Mesh" if a["mesh_back"] else "Upholstered"
    extras = [f"{_cap(a['armrests'])} Armrests"]
    if a["lumbar_support"]:
        extras.append("Adjustable Lumbar Support")
    if a["headrest"]:
        extras.append("Headrest")
    return f"{head} Ergonomic {back} Office Chair, {', '.join(extras)}"


def title_blenders(head: str, a: Mapping[str, AttrValue]) -> str:
    kind = "Heated " if a["heating"] else ""
    cups = " with To-Go Cups" if a["personal_cups"] else ""
    return f"{head} {a['wattage']}W {kind}Blender, {a['capacity_l']}L Jar{cups}"


def title_vacuum_cleaners(head: str, a: Mapping[str, AttrValue]) -> str:
    kind = {"robot": "Robot", "stick": "Stick", "upright": "Upright", "canister": "Canister"}[
        str(a["type"])
    ]
    cord = "Cordless " if a["cordless"] and kind != "Robot" else ""
    hepa = ", HEPA Filter" if a["hepa_filter"] else ""
    return f"{head} {cord}{kind} Vacuum Cleaner, {a['suction_pa']} Pa Suction{hepa}"


def title_monitors(head: str, a: Mapping[str, AttrValue]) -> str:
    res = {"1920x1080": "Full HD", "2560x1440": "QHD", "3840x2160": "4K UHD"}[str(a["resolution"])]
    hdr = " HDR" if a["hdr"] else ""
    usb = ", USB-C" if a["usb_c"] else ""
    size = f"{a['screen_in']}-inch"
    return f"{head} {size} {res} {a['panel']} Monitor, {a['refresh_hz']}Hz{hdr}{usb}"


def title_kids_toys(head: str, a: Mapping[str, AttrValue]) -> str:
    kind = str(a["toy_type"]).title()  # multi-word kinds: "Building Set"
    pieces = f", {a['pieces']} Pieces" if int(a["pieces"]) > 1 else ""
    stem = " STEM" if a["educational"] else ""
    return f"{head}{stem} {kind} Toy for Ages {a['age_min']}+{pieces}"


def title_phone_cases(head: str, a: Mapping[str, AttrValue]) -> str:
    mag = " Magnetic" if a["magnetic_charging"] else ""
    return (
        f"{head}{mag} {_cap(a['material'])} Phone Case for {a['phone_model']}, "
        f"{a['drop_protection_m']}m Drop Protection"
    )
