"""Word lists and patterns of the deterministic linker (:mod:`crs_agent.tools.linker`), English only.

Kept apart from the scanning code so the vocabulary can be reviewed, and extended, on its own.
"""

from __future__ import annotations

import re

MAX_CHARS = 20_000  # longer messages are cut: linking stays linear and fast
MAX_NGRAM = 16  # longest title key scanned (cheap: the scan follows known key prefixes)
SCOPE = 4  # how many tokens (a multi-token entity counts as one) a negation reaches forward
OLD_YEAR_MAX = 1979
RECENT_YEARS = 5

WORDS = (  # ~400 common English words: never a title or surname on their own without a year or quotes
    "a about above across actually after again against ago all almost alone along already also always am among an "
    "and another any anybody anyone anything anyway anyways are around as ask asked at away awesome back bad be "
    "because been before being believe best better between big bit both boy boys but by call came can care "
    "case cause certainly check come comes cool could couple course cute day days dear definitely did do does doing "
    "done down during each early easy else end enjoy enough even ever every everyone everything exactly face fact "
    "fair family far fast favorite favourite few film films find fine first five for found four free friend friends "
    "from full fun funny gave get gets getting girl girls give go goes going gone good goodbye got great guess guy "
    "guys had half happy hard has have having he heard hello help her here hers hey hi high him his home honestly "
    "hope how however i idea if in instead interesting into is it its just keep kid kids kind knew know last late "
    "later least left less let life like liked likes little long look looking looks lot lots love loved lovely "
    "made make man many may maybe me mean men might mind mine minute more most movie movies much must my myself name "
    "need needs never new next nice night no none nope nor not nothing now of off oh ok okay old on once one ones "
    "only open or other others our out over own part people perfect perhaps place play please plenty point pretty "
    "probably quite rather read ready real really recommend recommendation recommendations remember right said same "
    "saw say says see seem seems seen she should show shows side since six so some somebody someone something "
    "sometimes soon sorry sound sounds start still story stories stuff such sure take talk tell ten than thank thanks "
    "that the their them then there these they thing things think this those though three through time times to "
    "today together tonight too top totally true try trying two under until up upon us use used very wait want "
    "wanted wants was watch watched watching way we week weekend well went were what whatever when where which "
    "while white who whole why will wish with without woman women wonderful work world worry would wow yeah year "
    "years yes yet you young your yours"
)
MORE_WORDS = (  # chat staples that are also one-word titles or surnames, days, months, nationalities
    "big heat home her it love movie saw up us date party christmas summer holiday holidays school checking check "
    "laugh god stop perfect match stand coming inside house super president seven eight nine eleven twelve hundred "
    "monday tuesday wednesday thursday friday saturday sunday january february march april june july august "
    "september october november december american english british french italian german spanish japanese chinese "
    "korean indian mexican irish russian australian canadian european asian african hollywood netflix disney "
    "marvel pixar"
)
STOPWORDS = frozenset(WORDS.split()) | frozenset(MORE_WORDS.split())
MINOR = frozenset("a an and at by for from in of on or s t the to with".split())
ARTICLES = frozenset({"the", "a", "an"})

GENRE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "horror": ("horror", "horrors", "scary", "spooky", "creepy", "gore", "gory", "slasher", "slashers"),
    "comedy": ("comedy", "comedies", "funny", "hilarious", "comedic", "humor", "humour", "humorous"),
    "sci-fi": ("sci fi", "scifi", "science fiction"),
    "romance": ("romance", "romances", "romantic", "love story", "love stories"),
    "animation": ("animation", "animated", "cartoon", "cartoons", "anime"),
    "family": ("family", "kids", "children", "childrens", "family friendly", "kid friendly"),
    "action": ("action", "action packed"),
    "thriller": ("thriller", "thrillers", "suspense", "suspenseful"),
    "documentary": ("documentary", "documentaries", "docs", "docu"),
    "war": ("war",),
    "western": ("western", "westerns", "cowboy", "cowboys"),
    "musical": ("musical", "musicals"),
    "mystery": ("mystery", "mysteries", "whodunit", "whodunnit", "whodunits"),
    "crime": ("crime", "gangster", "gangsters", "mob", "mafia", "heist", "heists"),
    "drama": ("drama", "dramas", "dramatic"),
    "fantasy": ("fantasy", "fantasies"),
    "adventure": ("adventure", "adventures"),
    "biography": ("biography", "biographies", "biopic", "biopics", "biographical"),
    "history": ("history", "historical"),
    "sport": ("sport", "sports"),
    "music": ("music",),
    "film-noir": ("film noir", "noir"),
}
ROMCOM = ("romcom", "romcoms", "rom com", "rom coms", "romantic comedy", "romantic comedies")
WEAK_GENRES = frozenset({"short", "news", "music"})  # only before "movie", "film"...
MOVIE_WORDS = frozenset("movie movies film films flick flicks documentary documentaries one ones".split())

NEGATIONS = frozenset(
    "no not nothing without never hate hated hates hating dislike disliked dislikes avoid avoiding except excluding "
    "none nor neither nope dont didnt doesnt isnt wasnt cant wont havent hasnt arent werent aint couldnt wouldnt "
    "shouldnt despise detest instead".split()
)
NT_STEMS = frozenset("don didn doesn isn wasn can won haven hasn aren weren ain couldn wouldn shouldn".split())
CUE_CANCEL = frozenset("mind matter problem problems worries thanks thank sure doubt only just i we".split())
POSITIVE = frozenset(
    "like likes liked love loves loved enjoy enjoys enjoyed want wants wanted prefer prefers adore adored dig".split()
)
PAST = frozenset("liked loved enjoyed hated disliked adored".split())
SEEN = frozenset("seen saw watched rewatched already".split())
AWARE = frozenset("heard hear know knew familiar".split())
AWARE_ITEM = AWARE | frozenset("seen saw see watched watch tried".split())
NEUTRALIZERS = frozenset("mind forget beat beats top tops wait miss wrong doubt enough".split())
NEG_AFTER = frozenset(
    "terrible boring awful bad horrible worst overrated stupid dumb lame meh sucked sucks disappointing garbage "
    "trash dull annoying hated".split()
)
BAD_VERBS = frozenset("sucked sucks stunk stinks bored disappointed".split())
COPULAS = frozenset("was is s were are seemed seems felt feels looked looks got gets wasn isn aren weren".split())
POS_AFTER = frozenset("good great amazing awesome fun enjoyable excellent fantastic brilliant loved liked".split())
POSSESSIVE = frozenset("my our your his her their".split())
DECADE_WORDS = {
    "twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
    "seventies": 1970, "eighties": 1980, "nineties": 1990, "noughties": 2000,
}  # fmt: skip
LOWER_CUES = {"after": 1, "since": 0, "post": 1, "newer": 1, "later": 1}
UPPER_CUES = {"before": -1, "pre": -1, "prior": -1, "until": 0, "till": 0, "older": -1, "earlier": -1}
FLIPPED = {("low", 1): ("high", 0), ("low", 0): ("high", -1), ("high", -1): ("low", 0), ("high", 0): ("low", 1)}
RECENT = frozenset("recent newer newest latest".split())
OLD = frozenset("classics oldies vintage".split())
AGE_NOUNS = MOVIE_WORDS | {"releases", "release", "stuff", "school", "classics", "classic"}
NOT_OLD = frozenset("a an the true modern cult instant such".split())
TOKEN_RE = re.compile(r"@\d+|[^\W_]+")
NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
DECADE_RE = re.compile(r"(\d\d|1[89]\d\d|20\d\d)s")
PAREN_YEAR_RE = re.compile(r"\s*[(\[]\s*(\d{4})\s*[)\]]")
QUOTES = frozenset("\"'`\u2018\u2019\u201c\u201d\u00ab\u00bb")
CLAUSE_CHARS = frozenset(".,;!?:\n\u2026\u2013\u2014")
SENTENCE_CHARS = frozenset(".!?:\n\u2026")
CLAUSE_WORDS = frozenset({"but", "however", "although", "though", "whereas"})
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})

# Taking a list: the learned reading's "accept" stands only with one of these words and none of the turn-down
# words below (a false acceptance keeps a turned-down list on screen; a missed one only shows new items).
ACCEPT_CUES = frozenset(
    "yes yeah yep yup sure ok okay great perfect awesome excellent good nice cool love like fun thanks thank "
    "definitely interesting watch check add try".split()
)
TURN_DOWN_CUES = frozenset("but though however except nah meh pass skip instead other else another".split())
