#!/usr/bin/env python3
"""Generate the small English NER sample in data/sample/ (CC0 1.0, public domain).

Every sentence is built as a list of (token, tag) pairs from a hand-written,
pre-tokenised template and hand-written name lists, so the IOB2 tags are correct
by construction.  Standard library only; a fixed seed makes the output identical,
byte for byte, on every run:

    python data/make_sample.py

writes data/sample/{train,dev,test}.txt (CoNLL: "TOKEN TAG", blank line between
sentences) and data/sample/text.txt (raw paragraphs for the demo to tag).

Each name list is split once: about 60% of its entries may appear in train, the
rest only in dev and test, so those splits measure generalisation to unseen names.
"""

from __future__ import annotations

import random
from pathlib import Path

SEED = 13
SIZES = {"train": 500, "dev": 120, "test": 120}
TRAIN_SHARE = 0.6  # share of each name list that train may use
UNSEEN_RATE = 0.4  # chance that a dev/test slot draws from the held-out names
OUT = Path(__file__).resolve().parent / "sample"

# --------------------------------------------------------------------------- names
# Entries are space-tokenised.  Persons whose family name is not the last token
# are written "Full Name=Surname".  Most organisations, products, works and some
# events are invented; places, languages and demonyms are real.

PERSONS = """
Maria Lopez | Maria del Carmen Ruiz | James Whitfield | Aisha Bello | Kenji Watanabe
Olga Petrova | Lars Eriksson | Priya Raman | Tomasz Nowak | Fatima Haddad
Daniel Okafor | Chen Jiayi=Chen | Sofia Marchetti | Pieter van Dijk | Amara Nwosu
Lucas Ferreira | Ingrid Solberg | Mehmet Yilmaz | Hannah Kessler | Rahul Menon
Elena Vasquez | Jean-Luc Moreau | Grace Mwangi | Oliver Brandt | Yusuf Demir
Anna Kowalczyk | Diego Salazar | Nadia Karimi | Samuel Adeyemi | Claire Dubois
Ahmed Farouk | Tan Mei Lin=Tan | Viktor Horvath | Isabel Cardoso | Thomas Becker
Leila Mansour | Erik Lindqvist | Rosa Delgado | Kwame Asante | Julia Novak
Arjun Patel | Siobhan Kelly | Marco Bellini | Park Hyun-woo=Park | Ana Ribeiro
Dmitri Volkov | Emily Hargreaves | Nkechi Obi | Henrik Dahl | Laura Bianchi
Paulo Mendes | Zanele Dlamini | Felix Hartmann | Noor Hassan | Catalina Ortiz
Ruth Abernethy | Andrei Popescu | Yuki Tanaka | Beatriz Fonseca | Connor Doyle
Amina Sow | Stefan Keller | Ibrahim Diallo | Sara Lindgren | Marta Jovanovic
Patrick O'Neill | Hugo Laurent | Keiko Mori | Olumide Balogun | Vera Sokolova
William Ashford | Carmen Ibarra | Jonas Weber | Lucia Romano | Aroha Ngata
Ravi Iyer | Mateo Alvarez | Elif Kaya | Gustav Lund | Juan Pablo Herrera
Nguyen Van Thanh=Nguyen | Anne-Marie Leclerc | Abdul Karim Sesay | Chloe Fitzgerald | Tevita Lolohea
"""

LISTS: dict[str, tuple[str, str]] = {
    # slot: (entity type, "|"-separated entries)
    "COMPANY": (
        "ORG",
        """
        Northwind Bank | Altair Motors | Bluecrest Energy | Corvid Systems | Helix Pharmaceuticals
        Tarn Valley Mining | Oakridge Foods | Pelican Shipping | Lumen Telecom | Silverline Insurance
        Kestrel Aerospace | Granite Holdings | Vantor Steel | Orchid Textiles | Redfern Media Group
        Saltmarsh Capital | Ironbridge Logistics | Quayside Retail""",
    ),
    "AIRLINE": ("ORG", "Meridian Airlines | Skyward Air | Polar Wings | Coral Air | Atlas Airways"),
    "CLUB": (
        "ORG",
        """
        Halden Rovers | Port Ellis United | Ashbury Athletic | Riverside Wanderers | Castleton City
        Norhaven FC | Dunmore Harriers | Kingsbridge Albion | Stormhaven Rangers | Valbruna
        Eastmarch Town | Greyhill Celtic""",
    ),
    "AGENCY": (
        "ORG",
        """
        United Nations | World Health Organization | European Space Agency | Global Water Council
        Coastal Research Agency | Federal Maritime Office | International Red Cross | World Bank
        Arden Institute | National Statistics Office""",
    ),
    "UNI": (
        "ORG",
        """
        Eastmarch University | Halvorsen Institute of Technology | Lakeside University | Westbrook College
        Kingsford Polytechnic | Santa Lucia University | Northgate Medical School | Tamsin College""",
    ),
    "PARTY": (
        "ORG",
        """
        Progressive Alliance | National Reform Party | Green Union | Liberty Democrats | Social Labour Party
        Farmers ' League""",
    ),
    "MEDIA": ("ORG", "Daily Courier | Evening Herald | Radio Meridian | Harbour Times | Channel Nine News | Weekly Observer"),
    "EXCH": ("ORG", "New York Stock Exchange | London Stock Exchange | Tokyo Stock Exchange | Nasdaq | Euronext"),
    "FED": (
        "ORG",
        """
        Northern Football Association | International Cycling Union | Continental Rugby Board
        National Athletics Federation | Asian Hockey Federation""",
    ),
    "CITY": (
        "LOC",
        """
        Lisbon | Nairobi | Oslo | Krakow | Osaka | Lima | Toronto | Marseille | Hamburg | Manila
        Accra | Porto | Valencia | Gothenburg | Adelaide | Montreal | Istanbul | Hanoi | Cape Town
        Rio de Janeiro | Kuala Lumpur | New Delhi | Buenos Aires | Ho Chi Minh City | Dublin
        Bergen | Tbilisi | Santiago | Brisbane | Seville | Casablanca | Lagos""",
    ),
    "COUNTRY": (
        "LOC",
        """
        Portugal | Kenya | Norway | Poland | Japan | Peru | Canada | Germany | Ghana | Brazil
        Chile | Vietnam | Ireland | Argentina | Australia | Turkey | Egypt | India | Mexico
        Finland | South Korea | New Zealand | Morocco | Indonesia | Costa Rica | Sri Lanka""",
    ),
    "REGION": (
        "LOC",
        """
        Bavaria | Patagonia | Andalusia | Siberia | Lapland | Tuscany | Anatolia | Punjab
        Flanders | Catalonia | Quebec | Queensland | Rift Valley | Scottish Highlands | West Africa""",
    ),
    "WATER": (
        "LOC",
        """
        Baltic Sea | Mekong River | Danube | Black Sea | North Sea | Mediterranean | Rhine
        Amazon River | Red Sea | Caspian Sea | Yangtze""",
    ),
    "NAT": (
        "MISC",
        """
        French | German | Kenyan | Brazilian | Japanese | Norwegian | Polish | Canadian | Mexican
        Irish | Chilean | Egyptian | Indian | Australian | Turkish | Vietnamese | Portuguese
        Ghanaian | Finnish | Italian | Moroccan | Argentine | South African | Sri Lankan""",
    ),
    "SPORTEV": (
        "MISC",
        """
        Olympic Games | World Cup | Commonwealth Games | Asian Games | Winter Olympics
        Eastmarch Marathon | Atlantic Cup | Pan American Games""",
    ),
    "CULTEV": (
        "MISC",
        """
        Harbour Jazz Festival | Northern Film Festival | Coastal Arts Biennale | Amber Coast Book Fair
        Midsummer Folk Festival | Lantern Music Week | Eurovision Song Contest""",
    ),
    "LANG": ("MISC", "Swahili | Mandarin | Arabic | Hindi | Tagalog | Catalan | Welsh | Yoruba | Basque | Esperanto | Spanish | English"),
    "SCIAWARD": ("MISC", "Nobel Prize | Meridian Science Medal | Brightwater Prize | Halvorsen Medal"),
    "ARTAWARD": ("MISC", "Pulitzer Prize | Golden Lantern Award | Silver Quill Prize | Palme d'Or | Harbour Book Prize"),
    "PRODUCT": ("MISC", "Vega X2 | Pulse 5 | Aurora Note | Falcon K-90 | Corvid OS | Nimbus Pro | Tundra EV | Solstice"),
    "WORK": (
        "MISC",
        """
        The Salt Road | Winter Lanterns | A House by the Harbour | The Last Ferry | Northern Lights Symphony
        Glass Orchard | The Cartographer 's Daughter | Seven Quiet Rivers""",
    ),
}

# --------------------------------------------------------------------------- templates
# Pre-tokenised (CoNLL style: punctuation, quotes and possessive 's are tokens of their
# own).  {PER} is a full name, {SUR} the family name of the last {PER} in the sentence
# (or of a new person); other upper-case slots are entity lists above or O fillers below.

TEMPLATES = [
    # politics
    "Prime Minister {PER} said on {DAY} that the government would not raise taxes before the election .",
    "The {PARTY} won {NUM} of the {SEATS} seats in parliament , official results showed .",
    "{SUR} 's {PARTY} has governed {COUNTRY} since {YEAR} .",
    "Foreign ministers from {COUNTRY} and {COUNTRY} met in {CITY} to discuss trade and border security .",
    '" We will not accept these terms , " {PER} told reporters in {CITY} .',
    "The {AGENCY} warned that food prices in {REGION} could rise sharply this year .",
    "{NAT} President {PER} arrived in {CITY} on {DAY} for a two-day state visit .",
    "Opposition leader {PER} of the {PARTY} called for an early election .",
    "The talks , held in {CITY} under the auspices of the {AGENCY} , ended without agreement .",
    "{PER} , a former diplomat , was appointed ambassador to {COUNTRY} on {DAY} .",
    "Thousands of people marched through central {CITY} on {DAY} to protest against the new labour law .",
    "The {NAT} parliament approved the budget by {NUM} votes to {NUM} .",
    "Voters in {REGION} will go to the polls on {MONTH} {DNUM} .",
    "{SUR} , who leads the {PARTY} , said the coalition remained stable .",
    "A spokesman for the {AGENCY} in {CITY} declined to comment .",
    "{COUNTRY} and {COUNTRY} signed a ten-year fishing agreement in {CITY} on {DAY} .",
    "{PER} , the interior minister , resigned after {NUM} days in office .",
    "The {NAT} foreign ministry summoned the ambassador of {COUNTRY} on {DAY} .",
    # business
    "{PER} , the new chief of {COMPANY} , flew to {CITY} on {DAY} .",
    "Shares in {COMPANY} rose {DEC} percent on the {EXCH} after the company reported higher profits .",
    "{COMPANY} said on {DAY} it would cut {BIGNUM} jobs in {COUNTRY} over the next {WNUM} years .",
    "{COMPANY} 's chief executive , {PER} , will step down in {MONTH} .",
    "The {NAT} group {COMPANY} unveiled the {PRODUCT} at a trade fair in {CITY} .",
    "{COMPANY} agreed to buy {COMPANY} for {DEC} billion dollars , the companies said in a joint statement .",
    "Analysts at {COMPANY} expect the central bank to hold interest rates at {DEC} percent .",
    "The {EXCH} closed {DEC} percent higher on {DAY} , led by energy and mining stocks .",
    "{PER} , an economist at {UNI} , said inflation in {COUNTRY} was likely to peak in {MONTH} .",
    "{COMPANY} opened its first factory in {CITY} , creating about {BIGNUM} jobs .",
    "Sales of the {PRODUCT} exceeded {DEC} million units in the first quarter , {COMPANY} said .",
    '" Demand in {REGION} remains strong , " said {PER} , head of sales at {COMPANY} .',
    "The merger between {COMPANY} and {COMPANY} still needs approval from regulators in {COUNTRY} .",
    "{COMPANY} shares fell {DEC} percent in {CITY} trading .",
    "{COMPANY} , based in {CITY} , employs more than {BIGNUM} people .",
    "{SUR} told the {MEDIA} that {COMPANY} had no plans to leave {COUNTRY} .",
    "The {NAT} economy grew {DEC} percent in the third quarter , official data showed .",
    "{AIRLINE} reported a net loss of {DEC} million euros for the year .",
    # sport
    "{CLUB} beat {CLUB} {SCORE} on {DAY} to move top of the table .",
    "{PER} scored twice as {CLUB} won {SCORE} at home .",
    "{PER} ( {COUNTRY} ) won the 10,000 metres in {TIME} .",
    "{COUNTRY} will host the {SPORTEV} in {YEAR} .",
    "{NAT} runner {PER} won a gold medal at the {SPORTEV} .",
    "{SUR} 's goal in the {MINUTE} minute gave {CLUB} a {SCORE} victory over {CLUB} .",
    "{CLUB} manager {PER} was fined by the {FED} for criticising the referee .",
    "{PER} , {AGE_ATH} , announced retirement from international football on {DAY} .",
    "{PER} beat {PER} {SET} {SET} in the final in {CITY} .",
    "{CLUB} signed {NAT} striker {PER} on a {DEAL} deal .",
    "{PER} set a national record of {TIME} at the {SPORTEV} in {CITY} .",
    "Fans of {CLUB} gathered outside the stadium in {CITY} after the {SCORE} defeat .",
    "{COUNTRY} qualified for the {SPORTEV} with a {SCORE} win over {COUNTRY} .",
    "The {FED} suspended {PER} for {WNUM} matches .",
    "{CLUB} and {CLUB} drew {DRAW} in a bad-tempered match in {CITY} .",
    # science and health
    "Researchers at {UNI} have developed a cheaper test for malaria , the journal reported .",
    "The {AGENCY} said {NUM} new cases had been confirmed in {REGION} .",
    "{PER} , a physicist at {UNI} , was awarded the {SCIAWARD} for work on quantum sensors .",
    "Scientists from {COUNTRY} and {COUNTRY} will launch a joint satellite in {YEAR} .",
    "A study led by {PER} found that rivers in {REGION} are recovering faster than expected .",
    "Temperatures in {REGION} reached {NUM} degrees Celsius on {DAY} , the highest since {YEAR} .",
    "Regulators approved a new vaccine developed by {COMPANY} and {UNI} .",
    "{UNI} will open a research centre in {CITY} next year .",
    "Water levels on the {WATER} fell to their lowest point in {NUM} years .",
    "{PER} and {PER} shared the {SCIAWARD} for their discovery of a new class of antibiotics .",
    "According to the {AGENCY} , the earthquake struck {NUM} kilometres south of {CITY} .",
    "The probe , built by {COMPANY} for the {AGENCY} , will reach orbit in {MONTH} .",
    # culture
    'The {NAT} novelist {PER} won the {ARTAWARD} for " {WORK} " .',
    "{PER} 's new film , {WORK} , opens the {CULTEV} in {CITY} on {DAY} .",
    "The {CULTEV} drew more than {BIGNUM} visitors to {CITY} this year .",
    "{WORK} has been translated into {LANG} and {LANG} .",
    "Classes in {LANG} are now offered at {UNI} .",
    "{PER} , who sings in {LANG} and {LANG} , will tour {COUNTRY} in {MONTH} .",
    "The national museum in {CITY} has returned {NUM} statues to {COUNTRY} .",
    "Critics praised {SUR} 's performance in {WORK} .",
    "The {ARTAWARD} , worth {BIGNUM} euros , will be presented in {CITY} in {MONTH} .",
    "{PER} directed the opera , which was sung in {LANG} with {LANG} subtitles .",
    "Tickets for the {CULTEV} sold out within {NUM} hours , organisers said .",
    # travel and transport
    "{AIRLINE} will start direct flights between {CITY} and {CITY} in {MONTH} .",
    "Heavy snow closed the main road between {CITY} and {CITY} on {DAY} .",
    "Tourist arrivals in {COUNTRY} rose {DEC} percent last year , the tourism ministry said .",
    "The ferry from {CITY} to {CITY} was cancelled because of strong winds over the {WATER} .",
    "{PER} , a tour guide in {REGION} , said bookings from {NAT} visitors had doubled .",
    "Trains between {CITY} and {CITY} were delayed by up to {NUM} minutes on {DAY} .",
    "Hotels in {CITY} are almost fully booked ahead of the {CULTEV} .",
    "{AIRLINE} flight {FLIGHT} from {CITY} landed safely in {CITY} after an engine warning .",
    # crime and general news
    "Police in {CITY} arrested {WNUM} men on {DAY} in connection with the robbery .",
    "A court in {CITY} sentenced {PER} to {NUM} years in prison for fraud .",
    "{PER} , a lawyer for {COMPANY} , said the company would appeal .",
    "Firefighters battled a forest fire in {REGION} for a {ORD} day on {DAY} .",
    "The {MEDIA} reported that {PER} had resigned .",
    "{PER} , {AGE} , died at home in {CITY} on {DAY} , the family said .",
    "Floods in {REGION} have forced about {BIGNUM} people from their homes , the {AGENCY} said .",
    'In an interview with the {MEDIA} , {PER} said the report was " deeply flawed " .',
    '" No comment , " {SUR} said .',
    "Mr {SUR} , speaking in {CITY} , denied the allegations .",
    # long, several entities
    "{PER} , who joined {COMPANY} from {COMPANY} in {YEAR} , said the {NAT} market would remain"
    " the group 's main focus despite weaker demand in {REGION} .",
    "Speaking at the {CULTEV} in {CITY} , {PER} said {LANG} literature had long been ignored by publishers in {COUNTRY} and {COUNTRY} .",
    "The {AGENCY} , which is based in {CITY} , said on {DAY} that aid convoys had reached {NUM}"
    " villages in {REGION} but that roads to the coast remained closed .",
    "{CLUB} , who finished {ORD} last season , have appointed {PER} as coach after talks with"
    " {PER} , the former {COUNTRY} captain , broke down .",
    "{PER} of {UNI} and {PER} of {UNI} will lead a team of {NUM} scientists on an expedition to the {WATER} in {MONTH} .",
    "{PER} ( {CLUB} ) finished {ORD} , {NUM} seconds behind {PER} , after a late crash on the descent into {CITY} .",
    "{NAT} and {NAT} officials met {AGENCY} envoy {PER} in {CITY} on {DAY} , {SUR} 's office said .",
    # no entities
    "Shares rose {DEC} percent in early trading .",
    "The meeting ended without agreement late on {DAY} .",
    "Police said {WNUM} people were injured in the crash .",
    "Inflation slowed to {DEC} percent in {MONTH} from {DEC} percent a month earlier .",
    "The company said it expected profits to rise by about {DEC} percent next year .",
    "Rain is expected to continue until {DAY} , forecasters said .",
    "The match , due to be played on {DAY} , was postponed because of a waterlogged pitch .",
    '" It was a difficult season for all of us , " the coach said after the {DRAW} draw .',
    "About {BIGNUM} people attended the concert on {DAY} night .",
    "The government will announce its spending plans on {DAY} .",
    "Crude oil fell to {PRICE} dollars a barrel on {DAY} .",
    "The vote was delayed by {NUM} weeks after a dispute over procedure .",
    "Unemployment rose to {DEC} percent , the highest level since {YEAR} .",
    "Ministers are due to meet again in {MONTH} .",
    "The museum will reopen on {DAY} after {NUM} months of repairs .",
    "Officials said the bridge would remain closed for at least {WNUM} weeks .",
    "The airline cancelled {NUM} flights on {DAY} because of the strike .",
    "Both teams will play again on {DAY} .",
]

# Raw paragraphs for `make demo`: a mix of names from the training lists and new ones.
TEXT = [
    "Maria Lopez, the new chief of Northwind Bank, flew to Lisbon on Monday. She met officials from"
    " the Federal Maritime Office and said the bank's Portuguese business would grow next year.",
    "Halden Rovers beat Castleton City 3-1 on Saturday to move top of the table. Kwame Asante scored"
    " twice, and coach Ingrid Solberg said the team was ready for the Atlantic Cup.",
    "Shares in Altair Motors fell 4.2 percent on the London Stock Exchange after the carmaker delayed"
    " its new Tundra EV. Analysts at Saltmarsh Capital said demand in Bavaria had weakened.",
    "Prime Minister Daniel Okafor arrived in Nairobi on Tuesday for a two-day visit. Talks with"
    " President Wanjiru Kamau focused on trade, and Okafor's office called them friendly.",
    "Researchers at Eastmarch University and Brightwater Labs have developed a cheaper test"
    " for malaria. The team, led by Sunita Rao, hopes to start trials in Ghana in March.",
    "The Coastal Arts Biennale drew more than 80,000 visitors to Valencia this year. The Japanese"
    " painter Hiroshi Endo won the Golden Lantern Award for a series about the Mediterranean.",
    "Heavy snow closed the main road between Bergen and Oslo on Thursday. Police said three people"
    " were injured, and trains were delayed by up to 90 minutes.",
    "Meridian Airlines will start direct flights between Toronto and Lima in June. Chief executive"
    " Olivia Grant told the Evening Herald that bookings from Canadian travellers had doubled.",
    "Inflation slowed to 2.1 percent in May, the National Statistics Office said. Economists expect"
    " the central bank to hold interest rates for the rest of the year.",
    "The novelist Tomas Lindholm, who writes in Swedish and English, will tour Australia in October."
    ' His book "The Last Ferry" has sold more than a million copies.',
]

# --------------------------------------------------------------------------- fillers (tag O)
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
WORDNUMS = "two three four five six seven eight nine ten eleven twelve".split()
ORDINALS = "second third fourth fifth sixth seventh eighth ninth tenth".split()


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _score(r: random.Random) -> str:
    a = r.randint(1, 4)
    return f"{a}-{r.randint(0, a - 1)}"


FILLERS = {
    "DAY": lambda r: r.choice(DAYS),
    "MONTH": lambda r: r.choice(MONTHS),
    "DNUM": lambda r: str(r.randint(1, 28)),
    "YEAR": lambda r: str(r.randint(1990, 2024)),
    "NUM": lambda r: str(r.randint(2, 60)),
    "SEATS": lambda r: str(r.randint(90, 450)),
    "WNUM": lambda r: r.choice(WORDNUMS),
    "BIGNUM": lambda r: f"{r.randint(2, 120) * 100:,}",
    "DEC": lambda r: f"{r.randint(1, 99) / 10:.1f}",
    "PRICE": lambda r: f"{r.randint(4000, 9500) / 100:.2f}",
    "SCORE": _score,
    "DRAW": lambda r: r.choice(["0-0", "1-1", "2-2", "3-3"]),
    "SET": lambda r: r.choice(["6-4", "6-3", "7-5", "6-2", "7-6", "6-1"]),
    "TIME": lambda r: f"{r.randint(26, 29)}:{r.randint(0, 59):02d}.{r.randint(0, 99):02d}",
    "AGE": lambda r: str(r.randint(48, 93)),
    "AGE_ATH": lambda r: str(r.randint(29, 38)),
    "ORD": lambda r: r.choice(ORDINALS),
    "MINUTE": lambda r: _ordinal(r.randint(3, 90)),
    "DEAL": lambda r: r.choice(["two-year", "three-year", "four-year", "five-year"]),
    "FLIGHT": lambda r: f"{r.choice('AMPSK')}{r.choice('AMPSK')}{r.randint(100, 999)}",
}


# --------------------------------------------------------------------------- building
def _entries(block: str) -> list[str]:
    return [" ".join(e.split()) for line in block.splitlines() for e in line.split("|") if e.strip()]


def _split(rng: random.Random, entries: list[str]) -> tuple[list[str], list[str]]:
    """Shuffle a copy and cut it: (train-visible names, names held out of train)."""
    shuffled = list(entries)
    rng.shuffle(shuffled)
    k = min(len(shuffled) - 1, max(1, round(len(shuffled) * TRAIN_SHARE)))
    return shuffled[:k], shuffled[k:]


def _person(entry: str) -> tuple[list[str], str]:
    full, _, surname = entry.partition("=")
    tokens = full.split()
    return tokens, surname or tokens[-1]


def _entity(tokens: list[str], etype: str) -> list[tuple[str, str]]:
    return [(t, ("B-" if i == 0 else "I-") + etype) for i, t in enumerate(tokens)]


class Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.types = {"PER": "PER", **{slot: etype for slot, (etype, _) in LISTS.items()}}
        self.pools: dict[str, tuple[list[str], list[str]]] = {"PER": _split(rng, _entries(PERSONS))}
        for slot, (_, block) in LISTS.items():
            self.pools[slot] = _split(rng, _entries(block))

    def _draw(self, slot: str, split: str, used: set[str]) -> str:
        seen, unseen = self.pools[slot]
        pool = unseen if split != "train" and self.rng.random() < UNSEEN_RATE else seen
        choices = [e for e in pool if e not in used] or [e for e in seen + unseen if e not in used]
        entry = self.rng.choice(choices)
        used.add(entry)
        return entry

    def sentence(self, template: str, split: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        used: set[str] = set()
        last_surname: str | None = None
        for piece in template.split():
            if not (piece.startswith("{") and piece.endswith("}")):
                out.append((piece, "O"))
                continue
            slot = piece[1:-1]
            if slot in FILLERS:
                out.append((FILLERS[slot](self.rng), "O"))
            elif slot in ("PER", "SUR"):
                if slot == "SUR" and last_surname is not None:
                    out.extend(_entity([last_surname], "PER"))
                    continue
                tokens, last_surname = _person(self._draw("PER", split, used))
                out.extend(_entity([last_surname] if slot == "SUR" else tokens, "PER"))
            else:
                out.extend(_entity(self._draw(slot, split, used).split(), self.types[slot]))
        return out


def build(seed: int = SEED) -> dict[str, list[list[tuple[str, str]]]]:
    rng = random.Random(seed)
    gen = Generator(rng)
    seen_sentences: set[tuple[str, ...]] = set()
    splits: dict[str, list[list[tuple[str, str]]]] = {}
    for split, size in SIZES.items():
        order: list[str] = []
        sentences: list[list[tuple[str, str]]] = []
        while len(sentences) < size:
            if not order:
                order = list(TEMPLATES)
                rng.shuffle(order)
            template = order.pop()
            for _ in range(20):  # retry fillers until the sentence is new in every split
                sent = gen.sentence(template, split)
                key = tuple(t for t, _ in sent)
                if key not in seen_sentences:
                    seen_sentences.add(key)
                    sentences.append(sent)
                    break
        splits[split] = sentences
    return splits


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for split, sentences in build().items():
        lines = []
        for sent in sentences:
            lines.extend(f"{tok} {tag}\n" for tok, tag in sent)
            lines.append("\n")
        (OUT / f"{split}.txt").write_text("".join(lines), encoding="utf-8", newline="\n")
        n_ent = sum(tag.startswith("B-") for sent in sentences for _, tag in sent)
        print(f"{split}: {len(sentences)} sentences, {sum(map(len, sentences))} tokens, {n_ent} entities")
    (OUT / "text.txt").write_text("".join(p + "\n" for p in TEXT), encoding="utf-8", newline="\n")


if __name__ == "__main__":
    main()
