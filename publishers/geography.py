"""Brazilian geography for synthetic customers and sellers: states weighted as in the Olist orders, real
CEP (zip) ranges per state, and the largest cities, written the Olist way (lower case, no accents)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class State:
    code: str
    weight: float  # share of Olist customers, in percent
    zip_range: tuple[int, int]  # first and last 5-digit CEP prefix
    cities: tuple[str, ...]


STATES: tuple[State, ...] = (
    State("SP", 42.0, (1000, 19999), ("sao paulo", "campinas", "guarulhos", "santo andre", "sorocaba", "santos")),
    State("RJ", 12.9, (20000, 28999), ("rio de janeiro", "niteroi", "sao goncalo", "duque de caxias")),
    State("MG", 11.7, (30000, 39999), ("belo horizonte", "uberlandia", "contagem", "juiz de fora")),
    State("RS", 5.5, (90000, 99999), ("porto alegre", "caxias do sul", "pelotas", "canoas")),
    State("PR", 5.1, (80000, 87999), ("curitiba", "londrina", "maringa", "ponta grossa")),
    State("SC", 3.7, (88000, 89999), ("florianopolis", "joinville", "blumenau", "itajai")),
    State("BA", 3.4, (40000, 48999), ("salvador", "feira de santana", "vitoria da conquista")),
    State("DF", 2.2, (70000, 73699), ("brasilia",)),
    State("ES", 2.0, (29000, 29999), ("vitoria", "vila velha", "serra")),
    State("GO", 2.0, (72800, 76799), ("goiania", "anapolis", "aparecida de goiania")),
    State("PE", 1.7, (50000, 56999), ("recife", "jaboatao dos guararapes", "olinda")),
    State("CE", 1.3, (60000, 63999), ("fortaleza", "caucaia", "juazeiro do norte")),
    State("PA", 1.0, (66000, 68899), ("belem", "ananindeua", "santarem")),
    State("MT", 0.9, (78000, 78899), ("cuiaba", "varzea grande", "rondonopolis")),
    State("MA", 0.8, (65000, 65999), ("sao luis", "imperatriz")),
    State("MS", 0.7, (79000, 79999), ("campo grande", "dourados")),
    State("PB", 0.5, (58000, 58999), ("joao pessoa", "campina grande")),
    State("PI", 0.5, (64000, 64999), ("teresina", "parnaiba")),
    State("RN", 0.5, (59000, 59999), ("natal", "mossoro")),
    State("AL", 0.4, (57000, 57999), ("maceio", "arapiraca")),
    State("SE", 0.35, (49000, 49999), ("aracaju",)),
    State("TO", 0.3, (77000, 77999), ("palmas", "araguaina")),
    State("RO", 0.25, (76800, 76999), ("porto velho", "ji-parana")),
    State("AM", 0.15, (69000, 69299), ("manaus",)),
    State("AC", 0.08, (69900, 69999), ("rio branco",)),
    State("AP", 0.07, (68900, 68999), ("macapa",)),
    State("RR", 0.05, (69300, 69399), ("boa vista",)),
)
STATE_CODES = tuple(state.code for state in STATES)
STATE_WEIGHTS = tuple(state.weight for state in STATES)
