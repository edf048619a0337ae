"""The sentences generated product descriptions are made of, per category and per brand tier."""

from __future__ import annotations

USES: dict[str, tuple[str, ...]] = {
    "headphones": (
        "Made for long commutes, flights and focused work sessions.",
        "Tuned for podcasts, playlists and calls alike.",
        "A comfortable fit that stays put through a full day of listening.",
    ),
    "running-shoes": (
        "Built for daily training miles and race-day efforts.",
        "A responsive ride for tempo runs and easy recovery days.",
        "Breathable upper and secure lockdown for confident footing.",
    ),
    "tents": (
        "Pitches quickly for weekend camping trips and backcountry treks.",
        "Sheds wind and rain so you can sleep through a storm.",
        "Two doors and roomy vestibules keep gear dry and within reach.",
    ),
    "coffee-makers": (
        "Wake up to fresh, hot coffee with consistent extraction every time.",
        "Brews cafe-quality coffee at home in minutes.",
        "Easy to clean, with a removable water tank and drip tray.",
    ),
    "laptops": (
        "Fast enough for multitasking, video calls and creative work.",
        "A bright display and a comfortable keyboard for all-day productivity.",
        "Thin, quiet and ready for the office, the classroom or the road.",
    ),
    "backpacks": (
        "Organised pockets keep daily essentials and travel gear in order.",
        "Comfortable on the commute and tough enough for the trail.",
        "Padded straps and a ventilated back panel carry heavy loads with ease.",
    ),
    "office-chairs": (
        "Supports good posture through long hours at the desk.",
        "Breathable, adjustable and built for the home office.",
        "Smooth-rolling casters and a sturdy base for everyday work.",
    ),
    "blenders": (
        "Crushes ice and frozen fruit into silky smoothies in seconds.",
        "From nut butters to soups, one jar handles it all.",
        "Pulse control and hardened blades for consistent results.",
    ),
    "vacuum-cleaners": (
        "Lifts dust, crumbs and pet hair from carpets and hard floors.",
        "Swivel steering reaches under furniture and into corners.",
        "Tangle-free brush roll and an easy-empty bin.",
    ),
    "monitors": (
        "Sharp, accurate colour for work, photo editing and gaming.",
        "Thin bezels for a clean multi-monitor setup.",
        "Flicker-free backlight and a low blue light mode for long sessions.",
    ),
    "kids-toys": (
        "Sparks imagination and hours of screen-free play.",
        "Safety tested and made for little hands.",
        "A thoughtful gift for birthdays and holidays.",
    ),
    "phone-cases": (
        "Raised edges protect the screen and camera when it lands face down.",
        "A grippy finish that slides easily into a pocket.",
        "Precise cut-outs keep every button and port within reach.",
    ),
}

TIER_INTROS: dict[str, tuple[str, ...]] = {
    "premium": (
        "The {name} is built for people who notice the details.",
        "Flagship engineering and premium materials define the {name}.",
    ),
    "mid": (
        "The {name} balances performance and price for everyday use.",
        "A dependable all-rounder, the {name} gets the essentials right.",
    ),
    "budget": (
        "The {name} covers the basics at a friendly price.",
        "No frills, no fuss: the {name} does the job for less.",
    ),
    "value": (
        "Nile Basics keeps the essentials affordable, and the {name} is no exception.",
        "Designed by Nile, the {name} offers dependable quality at an everyday low price.",
    ),
}

AFTER_SALE = (
    "Backed by a {years}-year limited warranty.",
    "Free returns within 30 days.",
    "Ships in recyclable packaging.",
    "Includes a quick-start guide and responsive customer support.",
)
BUDGET_WARRANTY_YEARS = 1
WARRANTY_YEARS = (2, 3, 5)
# Every sentence with every warranty length, formatted once instead of once per product.
AFTER_SALE_TEXT = {
    (sentence, years): sentence.format(years=years)
    for sentence in AFTER_SALE
    for years in (BUDGET_WARRANTY_YEARS, *WARRANTY_YEARS)
}
