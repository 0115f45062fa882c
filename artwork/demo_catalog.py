"""The bundled demo catalog: fictional titles, each with several tagged artwork variants.

Every title can be sold several ways, so besides variants that show its own genres, about a
third of the variants sell a different genre aspect (a thriller's romance, a family film's
chase). That spread is what gives the personalization policy something to learn. The data is
literal so ids, tags and the rendered art are identical on every install.
"""

import copy

# (id, name, genres, year, synopsis, variants); a variant is (theme, tone, subject, cast).
# Artwork ids are the title id plus "-a1", "-a2", ... in the order listed.
_TITLES = (
    ("t01", "Harbor of Small Lights", ("drama", "romance"), 2011,
     "A lighthouse keeper's daughter falls for the engineer sent to automate her father's tower.", (
         ("romance", "warm", "close-up", ("Mara Quill",)),
         ("romance", "bright", "scene", ("Mara Quill", "Jonah Vale")),
         ("drama", "muted", "landscape", ()),
         ("drama", "dark", "close-up", ("Jonah Vale",)),
         ("family", "warm", "ensemble", ("Mara Quill", "Jonah Vale")),
         ("drama", "cool", "title-logo", ()),
     )),
    ("t02", "Velocity Protocol", ("action", "thriller"), 2019,
     "A bike courier discovers the package strapped to her back is counting down.", (
         ("action", "warm", "scene", ("Ines Marlow",)),
         ("action", "bright", "title-logo", ()),
         ("action", "dark", "ensemble", ("Theo Brandt",)),
         ("thriller", "dark", "close-up", ("Ines Marlow",)),
         ("thriller", "cool", "ensemble", ("Ines Marlow", "Theo Brandt")),
         ("thriller", "muted", "landscape", ()),
         ("romance", "warm", "close-up", ("Ines Marlow", "Theo Brandt")),
     )),
    ("t03", "The Marmalade Expedition", ("family", "comedy"), 2015,
     "Three siblings chase a runaway goat across the county fair.", (
         ("family", "bright", "ensemble", ("Calum Fitch", "Lotte Sayer")),
         ("family", "warm", "landscape", ()),
         ("comedy", "bright", "close-up", ("Calum Fitch",)),
         ("comedy", "warm", "title-logo", ()),
         ("action", "bright", "scene", ("Lotte Sayer",)),
     )),
    ("t04", "Static Between Stars", ("scifi", "drama"), 2021,
     "A radio operator on a generation ship hears a voice from the planet they left behind.", (
         ("scifi", "dark", "landscape", ()),
         ("scifi", "cool", "close-up", ("Priya Castellan",)),
         ("drama", "muted", "close-up", ("Priya Castellan",)),
         ("drama", "dark", "scene", ("Priya Castellan", "Oskar Lind")),
         ("romance", "warm", "close-up", ("Priya Castellan", "Oskar Lind")),
         ("thriller", "dark", "title-logo", ()),
     )),
    ("t05", "Hollow Pines", ("horror",), 2017,
     "A family's new cabin comes with a cellar door that will not stay shut.", (
         ("horror", "dark", "close-up", ("Dalia Reyes",)),
         ("horror", "dark", "landscape", ()),
         ("horror", "muted", "ensemble", ("Dalia Reyes", "Felix Arden")),
         ("thriller", "cool", "scene", ("Felix Arden",)),
         ("family", "warm", "ensemble", ("Dalia Reyes", "Felix Arden")),
     )),
    ("t06", "Pocket Dragons", ("animation", "family", "comedy"), 2020,
     "A dragon the size of a teacup sets out to prove it can guard a whole castle.", (
         ("animation", "bright", "close-up", ("Wren Adebayo",)),
         ("animation", "warm", "scene", ()),
         ("animation", "dark", "title-logo", ()),
         ("family", "bright", "landscape", ()),
         ("family", "warm", "ensemble", ("Wren Adebayo", "Marco Bellweather")),
         ("comedy", "bright", "ensemble", ("Marco Bellweather",)),
         ("comedy", "cool", "title-logo", ()),
         ("action", "warm", "close-up", ("Wren Adebayo",)),
     )),
    ("t07", "The Salt Road", ("documentary",), 2016,
     "Following the last camel caravans that still carry salt across the desert.", (
         ("documentary", "warm", "landscape", ()),
         ("documentary", "muted", "ensemble", ()),
         ("documentary", "bright", "title-logo", ("Kofi Mensah-Lowe",)),
         ("drama", "warm", "close-up", ()),
     )),
    ("t08", "Second Serve", ("comedy", "romance"), 2013,
     "Two rival tennis coaches are forced to share one court for a whole summer.", (
         ("romance", "warm", "close-up", ("Juno Hartley", "Bastien Cole")),
         ("romance", "bright", "scene", ("Juno Hartley", "Bastien Cole")),
         ("comedy", "bright", "ensemble", ("Juno Hartley", "Bastien Cole")),
         ("comedy", "warm", "title-logo", ()),
         ("action", "bright", "close-up", ("Bastien Cole",)),
         ("drama", "muted", "close-up", ("Juno Hartley",)),
     )),
    ("t09", "Iron Meridian", ("action", "scifi"), 2023,
     "An orbital salvage crew fights for a derelict warship before pirates strip it bare.", (
         ("action", "warm", "scene", ("Gideon Wake",)),
         ("action", "dark", "close-up", ("Gideon Wake",)),
         ("scifi", "dark", "landscape", ()),
         ("scifi", "cool", "ensemble", ("Gideon Wake", "Yara Solberg")),
         ("scifi", "bright", "title-logo", ()),
         ("thriller", "cool", "close-up", ("Yara Solberg",)),
         ("horror", "dark", "scene", ()),
     )),
    ("t10", "The Quiet Witness", ("thriller", "drama"), 2008,
     "A court stenographer realises the testimony she transcribed was rehearsed.", (
         ("thriller", "dark", "close-up", ("Clara Vance",)),
         ("thriller", "cool", "title-logo", ()),
         ("drama", "muted", "close-up", ("Clara Vance",)),
         ("drama", "warm", "ensemble", ("Clara Vance", "Desmond Achterberg")),
         ("romance", "muted", "scene", ("Clara Vance", "Desmond Achterberg")),
     )),
    ("t11", "Moth Season", ("horror", "thriller"), 2022,
     "Every summer the moths return to the lake, and someone goes missing.", (
         ("horror", "dark", "landscape", ()),
         ("horror", "dark", "close-up", ("Esme Calloway",)),
         ("thriller", "muted", "scene", ("Tobias Renn",)),
         ("thriller", "cool", "ensemble", ("Esme Calloway", "Tobias Renn")),
         ("romance", "warm", "close-up", ("Esme Calloway", "Tobias Renn")),
         ("drama", "muted", "title-logo", ()),
     )),
    ("t12", "Clockwork Garden", ("animation", "scifi", "family"), 2018,
     "A robot gardener tends the last greenhouse on a frozen world.", (
         ("animation", "bright", "close-up", ("Hana Moriyama",)),
         ("animation", "cool", "scene", ()),
         ("scifi", "dark", "landscape", ()),
         ("scifi", "cool", "title-logo", ()),
         ("family", "warm", "scene", ("Hana Moriyama",)),
         ("family", "bright", "landscape", ()),
         ("drama", "muted", "close-up", ("Hana Moriyama",)),
     )),
    ("t13", "Kings of the Cul-de-Sac", ("comedy",), 2010,
     "Four retirees turn their quiet street into a cut-throat lawn-bowling empire.", (
         ("comedy", "bright", "ensemble", ("Marco Bellweather", "Greta Nyholm")),
         ("comedy", "warm", "close-up", ("Ravi Dunmore",)),
         ("comedy", "bright", "title-logo", ()),
         ("action", "warm", "scene", ("Marco Bellweather",)),
         ("family", "bright", "landscape", ()),
     )),
    ("t14", "Ember and Ash", ("romance", "drama"), 2005,
     "Two firefighters fall in love during the longest wildfire season on record.", (
         ("romance", "warm", "close-up", ("Tamsin Holt", "Rafael Duarte")),
         ("romance", "dark", "scene", ("Tamsin Holt",)),
         ("drama", "warm", "landscape", ()),
         ("drama", "muted", "ensemble", ("Tamsin Holt", "Rafael Duarte")),
         ("action", "warm", "ensemble", ("Rafael Duarte",)),
         ("thriller", "dark", "title-logo", ()),
     )),
    ("t15", "Deep Current", ("documentary",), 2019,
     "Cave divers map a hidden river flowing beneath the seabed.", (
         ("documentary", "cool", "landscape", ()),
         ("documentary", "cool", "scene", ("Noor Haddad",)),
         ("documentary", "dark", "title-logo", ()),
         ("scifi", "dark", "landscape", ()),
         ("thriller", "cool", "close-up", ()),
     )),
    ("t16", "Night Shift at Mercy Vale", ("horror", "comedy"), 2016,
     "Two orderlies discover the hospital's night patients are not entirely alive.", (
         ("horror", "dark", "ensemble", ("Elias Crane", "Sabine Okafor")),
         ("horror", "cool", "close-up", ("Sabine Okafor",)),
         ("horror", "muted", "title-logo", ()),
         ("comedy", "bright", "ensemble", ("Elias Crane", "Sabine Okafor")),
         ("comedy", "warm", "close-up", ("Elias Crane",)),
         ("thriller", "dark", "scene", ()),
     )),
    ("t17", "Folded Worlds", ("documentary",), 2021,
     "Inside the studios of paper artists who fold entire cities by hand.", (
         ("documentary", "bright", "title-logo", ()),
         ("documentary", "muted", "close-up", ()),
         ("animation", "bright", "landscape", ()),
         ("family", "warm", "scene", ()),
     )),
    ("t18", "Runaway Comet", ("animation", "action", "family"), 2024,
     "A comet kid races across the galaxy to get home before the eclipse.", (
         ("animation", "bright", "close-up", ("Wren Adebayo",)),
         ("animation", "cool", "landscape", ()),
         ("action", "warm", "scene", ("Wren Adebayo",)),
         ("action", "bright", "title-logo", ()),
         ("family", "warm", "ensemble", ("Wren Adebayo", "Ilya Petrakis")),
         ("family", "cool", "close-up", ("Ilya Petrakis",)),
         ("scifi", "dark", "landscape", ()),
         ("comedy", "bright", "ensemble", ("Ilya Petrakis",)),
     )),
    ("t19", "Glass Harbor", ("thriller",), 2014,
     "A harbour master finds a yacht adrift with the table set for six and no one aboard.", (
         ("thriller", "dark", "landscape", ()),
         ("thriller", "cool", "close-up", ("Lotte Sayer",)),
         ("thriller", "muted", "title-logo", ()),
         ("horror", "dark", "scene", ()),
         ("drama", "muted", "ensemble", ("Lotte Sayer", "Oskar Lind")),
     )),
    ("t20", "Under the Mango Tree", ("family", "drama"), 2009,
     "A grandmother teaches her grandson to run the family fruit stand through one hard summer.", (
         ("family", "warm", "ensemble", ("Priya Castellan", "Kofi Mensah-Lowe")),
         ("family", "bright", "scene", ()),
         ("family", "warm", "title-logo", ()),
         ("drama", "warm", "close-up", ("Priya Castellan",)),
         ("drama", "muted", "landscape", ()),
         ("comedy", "bright", "close-up", ("Kofi Mensah-Lowe",)),
     )),
    ("t21", "Protocol Zero", ("scifi", "thriller"), 2020,
     "An AI auditor finds a deleted line of code that rewrites itself every night.", (
         ("scifi", "dark", "close-up", ("Hana Moriyama",)),
         ("scifi", "cool", "title-logo", ()),
         ("thriller", "dark", "ensemble", ("Ilya Petrakis", "Hana Moriyama")),
         ("thriller", "cool", "scene", ("Ilya Petrakis",)),
         ("drama", "muted", "close-up", ("Ilya Petrakis",)),
         ("action", "warm", "scene", ("Hana Moriyama",)),
     )),
    ("t22", "Blood Orange Sky", ("action", "romance"), 2012,
     "A getaway driver and the bank teller she kidnapped fall for each other on the run.", (
         ("action", "warm", "scene", ("Juno Hartley",)),
         ("action", "dark", "close-up", ("Gideon Wake",)),
         ("action", "bright", "title-logo", ()),
         ("romance", "warm", "close-up", ("Juno Hartley", "Gideon Wake")),
         ("romance", "warm", "landscape", ()),
         ("thriller", "dark", "ensemble", ("Juno Hartley", "Gideon Wake")),
         ("comedy", "bright", "scene", ("Juno Hartley",)),
     )),
    ("t23", "The Whistling House", ("horror", "family"), 2019,
     "Children investigate the house at the end of the lane whose chimney whistles tunes.", (
         ("horror", "dark", "landscape", ()),
         ("horror", "muted", "close-up", ("Esme Calloway",)),
         ("family", "warm", "ensemble", ("Calum Fitch", "Esme Calloway")),
         ("family", "bright", "scene", ("Calum Fitch",)),
         ("comedy", "bright", "title-logo", ()),
     )),
    ("t24", "Laugh Track", ("comedy", "drama"), 2018,
     "A washed-up sitcom star returns to stand-up in a town that never liked him.", (
         ("comedy", "bright", "close-up", ("Desmond Achterberg",)),
         ("comedy", "warm", "ensemble", ("Desmond Achterberg", "Clara Vance")),
         ("drama", "dark", "close-up", ("Desmond Achterberg",)),
         ("drama", "muted", "scene", ()),
         ("romance", "warm", "scene", ("Desmond Achterberg", "Clara Vance")),
     )),
    ("t25", "Wings Over Kestrel Bay", ("documentary", "family"), 2022,
     "A year with the birds of a single windswept bay.", (
         ("documentary", "cool", "landscape", ()),
         ("documentary", "muted", "title-logo", ()),
         ("family", "bright", "landscape", ()),
         ("family", "warm", "scene", ("Greta Nyholm",)),
         ("drama", "dark", "landscape", ()),
     )),
    ("t26", "Paper Moon Parade", ("animation", "romance"), 2017,
     "Two paper lanterns at a festival try to drift into the same sky.", (
         ("animation", "warm", "scene", ()),
         ("animation", "bright", "title-logo", ()),
         ("romance", "warm", "close-up", ("Yara Solberg", "Bastien Cole")),
         ("romance", "dark", "landscape", ()),
         ("family", "bright", "ensemble", ()),
         ("comedy", "cool", "close-up", ("Bastien Cole",)),
     )),
    ("t27", "The Fifth Floor", ("thriller", "horror"), 2023,
     "Office workers find their lift stops at a floor the building does not have.", (
         ("thriller", "cool", "ensemble", ("Theo Brandt", "Sabine Okafor")),
         ("thriller", "dark", "title-logo", ()),
         ("horror", "dark", "close-up", ("Sabine Okafor",)),
         ("horror", "muted", "scene", ()),
         ("comedy", "bright", "ensemble", ("Theo Brandt",)),
         ("scifi", "cool", "landscape", ()),
     )),
    ("t28", "Starlight Diner", ("romance", "scifi", "comedy"), 2016,
     "A waitress on a remote space station serves the same mysterious traveller every night.", (
         ("romance", "warm", "close-up", ("Tamsin Holt", "Felix Arden")),
         ("romance", "cool", "scene", ("Tamsin Holt",)),
         ("scifi", "dark", "landscape", ()),
         ("scifi", "bright", "title-logo", ()),
         ("comedy", "bright", "ensemble", ("Tamsin Holt", "Felix Arden")),
         ("comedy", "warm", "close-up", ("Felix Arden",)),
         ("drama", "muted", "close-up", ("Tamsin Holt",)),
     )),
    ("t29", "Fault Lines", ("documentary", "drama"), 2015,
     "Three towns rebuild after an earthquake, told by the people who stayed.", (
         ("documentary", "muted", "landscape", ()),
         ("documentary", "warm", "ensemble", ()),
         ("drama", "dark", "close-up", ()),
         ("family", "warm", "scene", ()),
     )),
    ("t30", "Thunder Alley", ("action",), 2007,
     "A retired stunt driver is pulled back for one last race through the old quarter.", (
         ("action", "warm", "scene", ("Rafael Duarte",)),
         ("action", "dark", "close-up", ("Rafael Duarte",)),
         ("action", "bright", "title-logo", ()),
         ("action", "cool", "landscape", ()),
         ("drama", "muted", "close-up", ("Rafael Duarte",)),
         ("thriller", "dark", "ensemble", ("Rafael Duarte", "Noor Haddad")),
     )),
    ("t31", "Bubble & Squeak", ("animation", "comedy"), 2014,
     "Two mismatched cartoon mice run the worst bakery in the city.", (
         ("animation", "bright", "ensemble", ("Marco Bellweather", "Juno Hartley")),
         ("animation", "warm", "title-logo", ()),
         ("comedy", "bright", "close-up", ("Marco Bellweather",)),
         ("comedy", "warm", "scene", ()),
         ("family", "bright", "landscape", ()),
     )),
    ("t32", "Snowbound Express", ("family", "action"), 2011,
     "A snowed-in train, a missing dog and a conductor who refuses to give up.", (
         ("family", "cool", "scene", ("Oskar Lind",)),
         ("family", "warm", "ensemble", ("Oskar Lind", "Lotte Sayer")),
         ("action", "cool", "close-up", ("Lotte Sayer",)),
         ("action", "dark", "landscape", ()),
         ("comedy", "bright", "title-logo", ()),
         ("thriller", "dark", "ensemble", ("Oskar Lind",)),
     )),
    ("t33", "Signal Lost", ("scifi", "horror"), 2018,
     "A research team on a comet receives a distress call from their own ship.", (
         ("scifi", "dark", "landscape", ()),
         ("scifi", "cool", "close-up", ("Priya Castellan",)),
         ("horror", "dark", "close-up", ("Elias Crane",)),
         ("horror", "muted", "ensemble", ("Elias Crane", "Priya Castellan")),
         ("thriller", "cool", "title-logo", ()),
         ("drama", "dark", "scene", ()),
     )),
    ("t34", "The Honeymoon Heist", ("comedy", "action", "romance"), 2021,
     "Newlyweds realise they were both hired to rob the same hotel.", (
         ("comedy", "bright", "ensemble", ("Ines Marlow", "Ravi Dunmore")),
         ("comedy", "warm", "title-logo", ()),
         ("action", "dark", "scene", ("Ines Marlow",)),
         ("action", "warm", "close-up", ("Ravi Dunmore",)),
         ("romance", "warm", "close-up", ("Ines Marlow", "Ravi Dunmore")),
         ("romance", "bright", "landscape", ()),
         ("thriller", "cool", "ensemble", ("Ines Marlow", "Ravi Dunmore")),
         ("thriller", "dark", "close-up", ("Ines Marlow",)),
     )),
    ("t35", "Voices of the Delta", ("documentary",), 2013,
     "Musicians of a river delta record the songs their grandparents taught them.", (
         ("documentary", "warm", "ensemble", ()),
         ("documentary", "muted", "landscape", ()),
         ("drama", "warm", "close-up", ()),
         ("romance", "warm", "landscape", ()),
     )),
    ("t36", "Afterglow", ("romance", "drama"), 2024,
     "Two strangers share a taxi on the last night before the city's lights go out for a week.", (
         ("romance", "warm", "close-up", ("Esme Calloway", "Tobias Renn")),
         ("romance", "dark", "scene", ("Esme Calloway", "Tobias Renn")),
         ("romance", "cool", "landscape", ()),
         ("drama", "muted", "close-up", ("Tobias Renn",)),
         ("drama", "dark", "title-logo", ()),
         ("thriller", "dark", "close-up", ("Esme Calloway",)),
     )),
)


def _build() -> list[dict]:
    titles = []
    for title_id, name, genres, year, synopsis, variants in _TITLES:
        artwork = [
            {
                "id": f"{title_id}-a{n}",
                "tags": {"theme": theme, "tone": tone, "subject": subject, "cast": list(cast)},
                # the title's default artwork (an experiment's fixed control shows it): the first
                "default": n == 1,
            }
            for n, (theme, tone, subject, cast) in enumerate(variants, start=1)
        ]
        titles.append({
            "id": title_id,
            "name": name,
            "genres": list(genres),
            "year": year,
            "synopsis": synopsis,
            "artwork": artwork,
        })
    return titles


_CATALOG = _build()

#: Every fictional actor credited on a demo artwork, sorted.
DEMO_CAST = tuple(sorted({
    name for title in _CATALOG for art in title["artwork"] for name in art["tags"]["cast"]
}))


def demo_titles() -> list[dict]:
    """The demo catalog, as fresh copies so callers may mutate what they get."""
    return copy.deepcopy(_CATALOG)
