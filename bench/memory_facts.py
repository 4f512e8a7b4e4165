"""A labeled set for memory recall: facts an agent would remember about people, each with a question that asks for
it in other words (a paraphrase that shares the person's name and little else).

Each scope gets ``per_scope`` facts about four people, so a name alone matches several facts of the scope and only
the meaning singles out the one asked for. Deterministic for a seed.
"""

from __future__ import annotations

import random

PEOPLE = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena"]
SLOTS = {
    "food": ["peanuts", "shellfish", "gluten", "dairy", "sesame"],
    "channel": ["email", "text message", "phone call", "letter"],
    "city": ["Lisbon", "Osaka", "Nairobi", "Toronto", "Krakow", "Lima"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "job": ["nurse", "civil engineer", "accountant", "chef", "pilot"],
    "item": ["standing desk", "laptop", "espresso machine", "bicycle", "office chair"],
    "lang": ["Portuguese", "Japanese", "Swahili", "Polish", "Korean"],
    "sport": ["football", "tennis", "swimming", "basketball", "judo"],
    "color": ["red", "silver", "dark blue", "white"],
    "cuisine": ["Thai", "Ethiopian", "Mexican", "Lebanese", "Georgian"],
    "month": ["March", "June", "September", "December"],
    "pet": ["cat", "parrot", "beagle", "tortoise"],
    "petname": ["Miso", "Pepper", "Rocket", "Olive"],
}
TEMPLATES = [
    ("{p} is allergic to {food}.", "Which food must {p} stay away from?"),
    ("{p} prefers to be contacted by {channel}.", "What is the best way to reach {p}?"),
    ("{p}'s flight to {city} leaves on {day}.", "When does {p} travel abroad?"),
    ("{p} works as a {job} at the {city} office.", "What does {p} do for a living?"),
    ("{p} paid the invoice for the {item} by credit card.", "How did {p} settle the bill?"),
    ("The {item} that {p} ordered arrived damaged.", "Was there a problem with {p}'s delivery?"),
    ("{p} wants the weekly report sent every {day} morning.", "On which day should {p} get the weekly summary?"),
    ("{p} is learning {lang} before moving abroad.", "Which language is {p} studying?"),
    ("{p}'s daughter plays {sport} on weekends.", "What does {p}'s child do for exercise?"),
    ("{p} cancelled the subscription because it was too expensive.", "Why did {p} stop paying for the service?"),
    ("{p} drives a {color} electric car.", "What kind of vehicle does {p} own?"),
    ("{p} cannot attend meetings before 10 am.", "What time constraints does {p} have for calls?"),
    ("{p} asked for a refund on the {item}.", "Did {p} request money back for a purchase?"),
    ("{p} uses a screen reader and needs accessible documents.", "Does {p} need any accommodations for files?"),
    ("{p} moved from {city} to Berlin last spring.", "Where did {p} live before?"),
    ("{p}'s favourite cuisine is {cuisine}.", "What kind of food does {p} enjoy most?"),
    ("{p} forgot the account password twice this week.", "Has {p} had trouble logging in?"),
    ("{p} is on parental leave until {month}.", "When will {p} be back at work?"),
    ("{p} rated the support call five stars.", "Was {p} happy with the help they got?"),
    ("{p} keeps a {pet} named {petname}.", "Does {p} have any animals at home?"),
]


def labeled_facts(scope: int, per_scope: int = 20, seed: int = 7) -> list[tuple[str, str]]:
    """``per_scope`` (fact, paraphrased question) pairs for scope number ``scope``."""
    rng = random.Random(seed * 100_003 + scope)
    people = rng.sample(PEOPLE, 4)
    out = []
    for n in range(per_scope):
        fact, question = TEMPLATES[(n + scope) % len(TEMPLATES)]
        values = {name: rng.choice(options) for name, options in SLOTS.items()}
        values["p"] = people[n % len(people)]
        out.append((fact.format(**values), question.format(**values)))
    return out
