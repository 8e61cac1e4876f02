"""The demo's 50 customer-relations directors: plausible French names at invented companies.

Every company lives under the reserved `.example` top-level domain (RFC 2606), so no address can
reach a real mailbox even if a demo config were pointed at a real server by mistake."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

SECTORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Banque", ("Banque Lombard", "Crédit Vauban", "Banque Saint-Aubin", "Caisse Rhône-Alpes",
                "Banque Hélios", "Crédit Ardent")),
    ("Assurance", ("Mutuelle Horizon", "Assurances Phare", "MutAlliance", "Prévoyance Ouest",
                   "Assurances Lucane", "Garantie Mutuelle du Centre")),
    ("Télécoms", ("Télécom Azur", "Onde Mobile", "Fibra", "Celestel", "NetHexa")),
    ("Énergie", ("Énergie Rhodanienne", "Volta Services", "GazAlpes", "Solaris Énergie", "Hydro Vosges")),
    ("Distribution", ("Maison Berthier", "Hyper Soleil", "Bricol'Ouest", "Maxidom", "Les Halles Fraîches",
                      "Optique Delorme")),
    ("Transport", ("Rail Atlantique", "Autocars Valmont", "Air Garonne", "Colis Express", "Ferry Manche")),
    ("Automobile", ("Automobiles Sérac", "Garages Réunis", "Loca'Route", "Pneus Verdier")),
    ("E-commerce", ("Boutik'Net", "Vitrine Directe", "ClicMaison", "Panier Malin", "ModaLine")),
    ("Tourisme", ("Voyages Alizé", "Hôtels Cormoran", "Croisières Iroise", "Parcs Aventura")),
    ("Services", ("Eaux du Littoral", "Propreté Nationale", "Gardiennage Ouest", "Habitat Social 44",
                  "Logis Confort")),
)

FIRST_NAMES_F = ("Nathalie", "Isabelle", "Sylvie", "Catherine", "Valérie", "Sandrine", "Christine",
                 "Stéphanie", "Céline", "Véronique", "Sophie", "Anne", "Karine", "Hélène", "Delphine",
                 "Émilie", "Laurence", "Agnès", "Florence", "Marion")
FIRST_NAMES_M = ("Philippe", "Laurent", "Thierry", "Éric", "Frédéric", "Olivier", "Christophe",
                 "Stéphane", "Pascal", "Nicolas", "Jérôme", "Patrick", "Sébastien", "Didier", "Vincent",
                 "François", "Franck", "Bruno", "Alain", "Hervé")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
              "Moreau", "Simon", "Laurent", "Lefèbvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
              "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
              "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin",
              "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier",
              "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez", "Gérard", "Nguyen",
              "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche", "Roy", "Noël",
              "Meyer", "Lucas", "Meunier", "Jean", "Perez", "Marchand", "Dufour", "Blanchard", "Barbier")


@dataclass(frozen=True)
class Director:
    index: int            # 0-based, the row in targets.csv
    civilite: str         # "M." or "Mme"
    prenom: str
    nom: str
    societe: str
    secteur: str
    email: str

    @property
    def female(self) -> bool:
        return self.civilite == "Mme"

    @property
    def full_name(self) -> str:
        return f"{self.prenom} {self.nom}"

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    @property
    def title(self) -> str:
        return "Directrice de la relation client" if self.female else "Directeur de la relation client"

    def fields(self) -> dict[str, str]:
        return {"email": self.email, "civilite": self.civilite, "prenom": self.prenom, "nom": self.nom,
                "societe": self.societe, "secteur": self.secteur}


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def make_directors(seed: int, count: int = 50) -> list[Director]:
    """`count` distinct directors at distinct companies, the same list for the same seed."""
    rng = random.Random(f"probe-demo-people-{seed}")
    companies = [(sector, name) for sector, names in SECTORS for name in names]
    if count > len(companies):
        raise ValueError(f"at most {len(companies)} demo directors")
    rng.shuffle(companies)
    last_names = list(LAST_NAMES)
    rng.shuffle(last_names)
    out = []
    for i, (sector, company) in enumerate(companies[:count]):
        female = rng.random() < 0.45
        prenom = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
        nom = last_names[i % len(last_names)]
        domain = ascii_slug(company) + ".example"
        local = rng.choice(("{p}.{n}", "{i}{n}", "{p}.{n}", "{i}.{n}"))
        address = local.format(p=ascii_slug(prenom), n=ascii_slug(nom).replace("-", ""),
                               i=ascii_slug(prenom)[0])
        out.append(Director(i, "Mme" if female else "M.", prenom, nom, company, sector,
                            f"{address}@{domain}"))
    return out
