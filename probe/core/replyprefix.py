"""The reply and forward prefixes of a subject line ("Re:", "AW:", "TR:", "回复:"…), in one place.

The classifier (is this a person answering?), the bounce and delay rules ("Re: undeliverable
parcel" is a person writing) and the out-of-office rule all ask the same question, and the
new-text extractor strips the same prefixes from a subject; before this module each had its own
list of languages. Forward prefixes are included: a forward is a person passing mail on, which
every caller treats like a reply (classify tells the two apart with its own forward rule)."""

from __future__ import annotations

import re

#: re/r (en, it), aw/wg (de), fw/fwd, tr/réf/ref (fr), rv/res/enc (es, pt), sv/vs/vl (nordic, fi),
#: antw/antwort (de, nl), odp (pl), rif (it), fs (sv), ynt (tr), bls/atb (no, lv), 回复/回覆/答复/转发 (zh).
WORDS = (r"re|r|aw|wg|fw|fwd|tr|rv|sv|vs|vl|antw|antwort|odp|ref|réf|rif|res|enc|fs|"
         r"ynt|bls|atb|reply|réponse|回复|回覆|答复|转发")

#: One prefix with its optional dot, counter ("Re[2]:", "AW(3):") and colon (ASCII or full-width).
PREFIX = rf"(?:{WORDS})\.?\s*(?:\[\d+\]|\(\d+\))?\s*[:：]"

#: A subject that starts with a prefix, after an optional mailing-list tag ("[team] Re: …").
REPLY_SUBJECT = re.compile(rf"^\s*(?:\[[^\]]{{0,60}}\]\s*)?{PREFIX}", re.IGNORECASE)
