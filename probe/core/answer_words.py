"""The default answer vocabulary: French and English first, German, Spanish, Italian, Dutch and
Portuguese basics. Phrases are written as people type them; matching folds case and accents
(except í/ì, so Spanish "sí" and Italian "sì" stay apart from "si", "if") and tolerates
apostrophe, hyphen, comma and spacing variants ("d'accord", "d accord", "non, merci").
"""

from __future__ import annotations


def _words(block: str) -> tuple[str, ...]:
    return tuple(p.strip() for line in block.strip().splitlines() for p in line.split("|") if p.strip())


YES = _words("""
oui | ouais | ouaip | oui oui | oui merci | oui volontiers | oui bien sûr | oui avec plaisir
oui s'il vous plaît
volontiers | avec plaisir | avec grand plaisir | avec joie | bien sûr | bien entendu | évidemment
absolument
d'accord | je suis d'accord | c'est d'accord | ok pour moi | okay pour moi | c'est ok
c'est bon pour moi
bon pour accord | ça me va | cela me va | ça marche | ça me convient | cela me convient
je suis partant
je suis partante | partant | partante | je m'abonne | je souhaite m'abonner | je veux m'abonner
je m'inscris
je souhaite m'inscrire | inscrivez-moi | abonnez-moi | je veux bien | je le veux bien
je suis intéressé
je suis intéressée | intéressé | intéressée | intéressés | ça m'intéresse | cela m'intéresse | j'accepte
j'accepte volontiers | pourquoi pas | je ne dis pas non | pas de souci | pas de soucis | pas de problème
aucun problème | sans problème | aucune objection | pas d'objection | tout à fait | certainement
carrément
affirmatif | c'est oui | ce sera oui | la réponse est oui | ma réponse est oui | je dis oui
je réponds oui
je serais ravi | je serais ravie | je suis preneur | je suis preneuse | preneur | preneuse
ça me ferait plaisir | cela me ferait plaisir | go for it | donner suite | je souhaite donner suite
ça ne me dérange pas
cela ne me dérange pas | pas d'inconvénient | aucun inconvénient | je n'y vois pas d'inconvénient
i don't mind | i do not mind | i'd love to | i would love to | would love to | love to | happy to
i'd be happy to | i would be happy to | glad to | i'd be glad to | avec intérêt | je souhaite recevoir
je veux recevoir
yes | yeah | yep | yup | yes please | yes thanks | yes thank you | yes sure | sure | of course
certainly
absolutely | definitely | gladly | bien sûr que oui | of course yes | with pleasure | i agree | agreed
i accept | count me in | sign me up
i'm in | i am in | i'm interested | i am interested | i would be interested | i'd be interested
interested
sounds good | sounds great | that's fine | fine by me | fine with me | ok for me | okay for me
works for me
go ahead | please do | i'm ok with that | ok with that | okay with that | fine with that | ok with it
d'accord avec ça | d'acc | ça me convient tout à fait | daccord | please subscribe me | subscribe me
i want to subscribe | i'd like to subscribe
i would like to subscribe | no problem | no worries | no objection | why not | i wouldn't say no
i would not say no | affirmative | the answer is yes | my answer is yes | yes i would | yes i do
yes i am
ja | ja gerne | ja bitte | gerne | sehr gerne | jawohl | einverstanden | natürlich | klar
selbstverständlich
sí | claro | claro que sí | por supuesto | de acuerdo | vale | con gusto | me interesa
estoy interesado
estoy interesada | sì | certo | certamente | d'accordo | volentieri | va bene | mi interessa
sono interessato
sono interessata | graag | ja graag | akkoord | prima | si | vale | sim | com certeza | com prazer
tenho interesse
""")

# Answer words that count only as a whole clause ("Si." but not "si vous voulez").
STANDALONE = _words("si | vale")

# Confirmations that are too weak to stand against an explicit "no" (a strong no wins over them).
WEAK_YES = _words("""
ok | okay | oki | okey | okidoki | alright | all right | fine | entendu | parfait | très bien
je confirme
i confirm | confirmed | confirmé
""")

NO = _words("""
non | nan | non merci | merci non | non pas pour moi | pas pour moi | pas intéressé | pas intéressée
pas intéressés | pas interessé | pas vraiment intéressé | pas vraiment intéressée
je ne suis pas intéressé
je ne suis pas intéressée | ne suis pas intéressé | ne suis pas intéressée | plus intéressé
plus intéressée
ça ne m'intéresse pas | cela ne m'intéresse pas | ne m'intéresse pas | ça ne m'intéresse plus
sans façon | sans moi | ce sera sans moi | pas suite | sans suite | je préférerais ne pas | préfère pas
préférerais pas | i'm good thanks | i am good thanks | je ne souhaite pas | je ne le souhaite pas
je ne souhaite pas m'abonner
je ne veux pas m'abonner
je ne veux pas recevoir | je refuse | je décline | je vais décliner | je préfère ne pas | je préfère pas
pas question | hors de question | certainement pas | sûrement pas | absolument pas | pas du tout
pas d'accord
je ne suis pas d'accord | pas pour le moment | pas pour l'instant | pas maintenant | pas cette fois
pas la peine | pas nécessaire | pas besoin | je passe mon tour | je ne donnerai pas suite
ne pas donner suite | pas preneur | pas preneuse | je ne suis pas preneur | négatif | c'est non
ce sera non
la réponse est non | ma réponse est non | je dis non | je réponds non | merci mais non | non désolé
no | nope | nah | no thanks | no thank you | thanks but no thanks | not interested | i'm not interested
i am not interested | not really interested | no longer interested | not for me | no way | not at all
i decline | i refuse | je ne m'abonne pas | ne m'abonne pas | je n'accepte pas | n'accepte pas
i don't accept | i do not accept | i don't want it | i do not want it | don't want it | je n'en veux pas
n'en veux pas | je ne le veux pas | je ne la veux pas | pas l'utilité | aucune utilité | pas utile
not really | pas vraiment | have to decline | must decline | will decline | we decline
respectfully decline
politely decline | we'll pass | we will pass | nous déclinons | devons décliner | dois décliner
ne souhaitons pas
nous ne souhaitons pas | i'll pass | i will pass | not now | not at this time | not right now
not at the moment
no need | not necessary | not this time | absolutely not | certainly not | definitely not
i'd rather not
i would rather not | rather not | i do not wish to | i don't wish to | i'm afraid not
unfortunately not
i disagree | i don't agree | i do not agree | the answer is no | my answer is no | no sorry
nein | nein danke | kein interesse | nicht interessiert | leider nicht | lieber nicht | no gracias
no me interesa
no estoy interesado | no estoy interesada | natürlich nicht | of course not | bien sûr que non
claro que no | certo che no | sicuramente no | no grazie | non mi interessa | non sono interessato
non sono interessata | nee | nee dank je | nee bedankt | geen interesse | niet geïnteresseerd | não
não obrigado | não obrigada | não tenho interesse
""") + _words("""
pas pour nous | ce n'est pas pour nous | c'est pas pour nous | ce n'est pas pour moi | c'est pas pour moi
pas pour nous en ce moment | pas en ce moment | pas pour le moment merci | pas cette année
ne nous intéresse pas | ne m'intéresse pas vraiment | nous ne sommes pas intéressés
nous ne sommes pas intéressées | on n'est pas intéressés | nous ne donnerons pas suite
nous n'allons pas donner suite | on ne va pas donner suite | je ne vais pas donner suite | passer notre tour
passer mon tour | nous passons notre tour | ce ne sera pas utile | pas utile pour nous
nous n'en avons pas besoin | on n'en a pas besoin | je n'en ai pas besoin
nous sommes déjà équipés | déjà abonné | déjà abonnée | déjà abonnés | ce ne sera pas la peine
ça ira merci | je vais m'abstenir | nous allons nous abstenir | je m'abstiens
not for us | not for us at the moment | not for us right now | not for us at this time | not for me right now
not at present | not this year | we're all set | we are all set | i'm all set | we'll give it a miss
give it a miss | we'll skip | we will skip | i'll skip | i will skip | not something we need
we don't need it | we don't need this | we do not need it | we do not need this | i don't need it
i don't need this | we have no need for | not needed
we're not looking for | we are not looking for | not looking for this | we're good thanks
we are good thanks | we're not interested | we are not interested | not of interest | no interest
nicht für uns | nicht für mich | im moment nicht | momentan nicht | derzeit nicht | zurzeit nicht | jetzt nicht
brauchen wir nicht | brauche ich nicht | kein bedarf | nicht nötig | nicht notwendig | nicht erforderlich
wir verzichten | ich verzichte | verzichten gerne | kein interesse danke | interessiert uns nicht
interessiert mich nicht | besser nicht
no es para nosotros | no es para mí | por ahora no | ahora no | de momento no | no por ahora
por el momento no | no nos interesa | no lo necesitamos | no lo necesito | no hace falta | no es necesario
no, gracias | paso, gracias | no me hace falta | no estamos interesados | no estoy interesado por ahora
non fa per noi | non fa per me | per ora no | non per ora | per il momento no | al momento no
non ci interessa | non mi serve | non ci serve | non è necessario | non serve | non abbiamo bisogno
non ne abbiamo bisogno | non siamo interessati | passo, grazie | lasciamo perdere
""")

OPT_OUT = _words("""
merci de me retirer de votre liste | me retirer de votre liste | me retirer de vos listes
me retirer de la liste
me retirer de votre fichier | me retirer de vos fichiers | retirez-moi | retirez moi de | rayez-moi
me supprimer de votre liste | supprimez-moi | supprimer mon adresse | supprimez mon adresse
supprimer mes coordonnées | supprimez mes coordonnées | effacez mes coordonnées | me désinscrire
désinscrire
désinscrivez-moi | désinscription | me désabonner | désabonner | désabonnez-moi | désabonnement
ne plus me contacter | ne me contactez plus | ne plus être contacté | ne plus être contactée
ne plus être sollicité | ne plus être sollicitée | ne plus me solliciter | ne plus recevoir
ne plus m'écrire
ne m'écrivez plus | ne plus m'envoyer | ne m'envoyez plus | arrêtez de m'écrire | arrêtez de m'envoyer
arrêtez de me contacter | cessez de m'écrire | cessez de me contacter | je ne veux plus recevoir
je ne souhaite plus recevoir | je ne souhaite plus être contacté | je ne souhaite plus être contactée
stop
please remove me | remove me | remove my email | remove my address | take me off | unsubscribe
unsubscribe me
opt out | opt me out | stop emailing me | stop e-mailing me | stop sending me | stop contacting me
stop writing to me | don't contact me | do not contact me | don't email me | do not email me
don't write to me | never contact me | leave me alone | no more emails | delete my email
delete my details
delete my address | delete my data | supprimez mes données | supprimer mes données
i don't want to receive | i do not want to receive | i do not wish to receive
do not send me | don't send me
austragen | bitte austragen | abmelden | abbestellen | keine e-mails mehr | nicht mehr kontaktieren
darme de baja | dar de baja | no me contacten | no quiero recibir | cancellatemi | disiscrivermi
non contattatemi | rimuovetemi | uitschrijven | afmelden | descadastrar
""")

# Phrases that are not answers but change how nearby answer words are read.
ACKNOWLEDGEMENTS = _words("""
bien reçu | j'ai bien reçu | j'ai reçu | nous avons bien reçu | reçu | bien noté | c'est noté | noté
pris note | je prends note | accusé de réception | received | well received | i received
i have received
i've received | got it | got your | noted | duly noted | erhalten | recibido | ricevuto
""")

HEDGES = _words("""
peut-être | peut être | éventuellement | je ne sais pas | je sais pas | sais pas | pas sûr | pas sûre
pas certain | pas certaine | je vais réfléchir | je vais y réfléchir | j'y réfléchis | je réfléchis
laissez-moi réfléchir | je reviens vers vous | je vous recontacte | je vous redis
je vous tiens au courant
je vous dirai | pas encore | on verra | à voir | ça dépend | cela dépend | plus tard
maybe | perhaps | possibly | not sure | i'm not sure | i don't know | i do not know | dunno | no idea
aucune idée | i'll think about it | i will think about it | let me think | i need to think
i'll get back to you | i will get back to you | not yet | we'll see | it depends | depends
sans doute | probablement | probably | vielleicht | quizás | tal vez | forse
""")

DELEGATIONS = _words("""
je transmets | je transfère | je fais suivre | je fais passer | je passe le message | transmis à
transmets à
transféré à | je vous redirige | mon assistant | mon assistante | la bonne personne
le bon interlocuteur
la bonne interlocutrice | passing this | passing it | passed this | passed it on | forwarding this
forwarding it | forwarded this | forwarded it | i will forward | i'll forward | my assistant
the right person
wrong person | not the right person | the right contact
""")

# Look like answers, are not ("non seulement", "si oui, …").
NEUTRAL = _words("""
non seulement | not only | no matter | no one | no-one | noreply | no-reply | no reply | oui-dire
ouï-dire
no big deal | no rush | no hurry | no pressure | no offense | no offence | no wonder | no doubt
pas grave | c'est pas grave | ce n'est pas grave | si oui | si non | if yes | if no | if not | if so
or not | ou pas | ou non | yes-man
""")

# Single words that answer only as a clause of their own ("Oui, …", "… c'est non"), never mid-sentence
# ("I have no idea", "no time").
BARE = frozenset(_words("""
oui | ouais | ouaip | non | nan | yes | yeah | yep | yup | no | nope | nah | ok | okay | oki | okey
sure
ja | nein | sí | sì | nee | sim | não | stop | interested | intéressé | intéressée | fine | claro
certo
vale
prima | klar | gerne | graag | natürlich
"""))

# Answer words a following "bien reçu" / "je transmets" turns into a mere acknowledgement.
ACKNOWLEDGEABLE = frozenset(_words("""
oui | ouais | yes | yeah | yep | ok | okay | oki | okey | alright | all right | d'accord | entendu
parfait
très bien | oui merci | yes thanks | yes thank you | ja | sí | sì | fine | je confirme | i confirm
confirmed
"""))

NEGATORS = r"\b(?:ne|n'|pas|not|never|jamais|nicht|kein\w*|nunca|nie|niet|geen|nao)\b|n't\b"

# Words that may stand before ("Bonjour, oui") or after ("non merci beaucoup") a bare answer word.
FILLER_BEFORE = _words("""
bonjour | bonsoir | salut | hello | hi | hey | dear | cher | chère | madame | monsieur | mme | mr | mrs
ms
alors | eh | bien | ben | bah | well | so | ah | oh | euh | hmm | hum | merci | thanks | thank | you
et
and
mais | but | donc | moi | me | pour | for | ma | my | réponse | answer | hallo | hola | ciao
""")
FILLER_AFTER = _words("""
merci | thanks | thank | you | beaucoup | bien | very | much | so | a | lot | please | svp | stp | s
il
vous
plaît | pour | moi | me | for | the | encore | again | madame | monsieur | danke | gracias | grazie
from | my
side | de | ma | part
""")
