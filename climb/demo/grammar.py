"""Grammars for the built-in demo corpus (see ``climb.demo.corpus``).

Each domain is a small template grammar: title templates, sentence templates
and slot vocabularies.  A template refers to a slot as ``{name}``; ``{name_2}``
draws a second, *different* value from the same vocabulary (e.g. two teams).
The neutral slots and sentences are shared by every domain, so the domains
overlap a little instead of being trivially disjoint.

All names of people, companies, teams, hospitals and firms are fictional.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class Grammar:
    """Title templates, sentence templates and slot vocabularies of one domain."""

    titles: tuple[str, ...]
    sentences: tuple[str, ...]
    slots: Mapping[str, tuple[str, ...]]


def _w(spec: str) -> tuple[str, ...]:
    """Split a ``|``-separated vocabulary string (keeps the tables compact)."""
    return tuple(item.strip() for item in spec.split("|") if item.strip())


# --------------------------------------------------------------------- neutral
NEUTRAL_SLOTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "weekday": _w("Monday | Tuesday | Wednesday | Thursday | Friday | Saturday | Sunday"),
    "month": _w("January | February | March | April | May | June | July | August"
                " | September | October | November | December"),
    "day": tuple(str(d) for d in range(1, 29)),
    "city": _w("Lisbon | Toronto | Nairobi | Osaka | Denver | Glasgow | Perth | Lyon"
               " | Austin | Bergen | Cordoba | Leipzig | Halifax | Pune | Tampere"
               " | Valencia | Dunedin | Porto | Bristol | Adelaide"),
    "official": _w("a spokesperson | a senior official | a press officer"
                   " | a regional director | a communications adviser"
                   " | an unnamed source | a board member | the office manager"
                   " | a department head | a media representative"
                   " | a local councillor | an administrator | a deputy director"
                   " | a staff representative | a duty officer"),
})

NEUTRAL_SENTENCES: tuple[str, ...] = (
    "The announcement was made on {weekday}, {month} {day}.",
    "Officials said further details would be released later this week.",
    "{official} declined to comment when contacted by reporters.",
    "The news was first reported by a local newspaper in {city}.",
    "More information is expected to be published in the coming days.",
    "It was not immediately clear how many people would be affected.",
    "The statement was released shortly before noon local time.",
    "Further updates are expected after a meeting scheduled for {weekday}.",
    "{official} said the timeline had not yet been finalised.",
    "This article was updated on {month} {day} with additional information.",
    "Reporting for this story was contributed by staff in {city}.",
    "The figures were confirmed by {official} late on {weekday}.",
    "Readers can find earlier coverage of the story in our archive.",
    "A follow-up briefing is planned in {city} next {weekday}.",
    "Officials said the situation was being reviewed carefully.",
)

# ---------------------------------------------------------------------- sports
_SPORTS = Grammar(
    titles=(
        "{team} edge past {team_2} in {competition}",
        "{player} stars as {team} win at {venue}",
        "{coach} faces selection puzzle before {competition}",
        "Injury blow for {team} as {player} is ruled out",
        "Late drama at {venue} as {team_2} snatch a draw",
        "{team} extend winning run with {score} victory",
        "Match report: {team} against {team_2}",
    ),
    sentences=(
        "{team} beat {team_2} {score} at {venue} on {weekday} night in {competition}.",
        "{player} opened the scoring in {minute} with {play}, sending the home supporters into raptures.",
        "{coach} praised the defensive discipline of the squad but admitted the {position} spot remains a concern.",
        "The {position} {player} finished the match with {stat} and was named player of the game.",
        "{team} have now won four straight fixtures and sit two points clear at the top of the standings.",
        "{player} limped off before halftime with {injury} and is expected to miss the next three matches.",
        "Fans packed {venue} hours before kickoff, waving scarves and chanting the names of the starting lineup.",
        "After a goalless first half, {team_2} equalised in {minute} through {play} from {player_2}.",
        "The referee showed three yellow cards and one red card in a bad-tempered second half.",
        "{coach} rotated the lineup ahead of {competition}, resting {player} and handing a debut to a teenage {position}.",
        "Statisticians noted that {team} have conceded only twice at {venue} all season.",
        "{player_2} sealed the victory with {play} deep in stoppage time.",
        "The transfer window opens next month, and scouts from {team_2} are reportedly tracking {player}.",
        "{team} trailed at the break before a furious comeback sparked by {play}.",
        "The club physio confirmed that {player} has recovered from {injury} and returned to full training.",
        "In the post-match press conference, {coach} refused to blame the referee for the defeat.",
        "{team_2} dominated possession but managed just two shots on target all evening.",
        "Bookmakers now make {team} favourites to lift the trophy in {competition}.",
        "The league table shows {team} level on points with {team_2} with six rounds remaining.",
        "Season ticket holders at {venue} will get priority access to tickets for {competition}.",
    ),
    slots=MappingProxyType({
        "team": _w("Riverside Hawks | Northgate United | Harbor City Lions | Eastfield Rovers"
                   " | Millbrook Athletic | Stonebridge Wolves | Kingsport Mariners"
                   " | Ashford Rangers | Redcliff Falcons | Westbury Thunder | Oakvale Titans"
                   " | Lakeshore Comets | Granite Bay Bears | Silverton Strikers"
                   " | Cedar Valley Foxes | Port Alden Sharks | Highmoor City | Brookdale Vipers"
                   " | Fairhaven Storm | Iron Hill Miners | Summerside Royals | Crestwood Eagles"),
        "player": _w("Marco Delaney | Tomas Okafor | Liam Brennan | Kofi Asante | Jonas Richter"
                     " | Diego Salcedo | Ryan Whitlock | Yusuf Demir | Caleb Monroe | Andre Lutz"
                     " | Sami Koivu | Noah Fairbanks | Mateo Arriaga | Ben Hollis | Kai Nakamura"
                     " | Felix Moreau | Owen Gallagher | Idris Balogun | Luca Ferrante | Evan Doyle"
                     " | Rafael Quintero | Jack Penrose"),
        "coach": _w("coach Harold Vance | manager Sofia Lindqvist | coach Dario Benetti"
                    " | manager Grant Mulligan | head coach Elena Vasquez | coach Pieter Janssen"
                    " | manager Colin Ashworth | head coach Mika Laine | coach Ricardo Alves"
                    " | manager Dennis Oyelaran | head coach Ruth Callahan | coach Viktor Hrabal"
                    " | manager Paul Greaves | coach Ines Carvalho | head coach Tom Reddick"),
        "venue": _w("Harbor Park | Riverside Stadium | the Northgate Arena | Kingsport Field"
                    " | Millbrook Oval | the Granite Dome | Cedar Valley Ground | Ashford Park"
                    " | the Lakeshore Coliseum | Westbury Stadium | Redcliff Bowl"
                    " | Stonebridge Park | the Summerside Arena | Iron Hill Ground"
                    " | Crestwood Stadium | Fairhaven Field"),
        "competition": _w("the league semifinal | the national cup | the regional derby"
                          " | the championship final | the continental qualifier"
                          " | the opening round of the playoffs | the quarterfinal"
                          " | the season opener | the cup replay | the promotion playoff"
                          " | the super cup | the conference final | the group stage"
                          " | the knockout round | the title decider"),
        "score": _w("3-1 | 2-0 | 1-0 | 4-2 | 2-1 | 3-0 | 5-3 | 104-98 | 88-81 | 112-109"
                    " | 27-24 | 31-17 | 6-4 | 3-2 | 95-90 | 21-14 | 4-1 | 2-2 | 1-1 | 78-74"),
        "play": _w("a curling free kick | a late three-pointer | a diving header"
                   " | a thunderous volley | a breakaway layup | a penalty into the top corner"
                   " | a long-range strike | a slam dunk on the fast break"
                   " | a cheeky backheel | a rebound finish | a towering header from a corner"
                   " | a solo run past three defenders | a low drive at the near post"
                   " | a fadeaway jumper | a chip over the goalkeeper | an interception and sprint"
                   " | a deflected shot | a buzzer-beating jumper"),
        "minute": _w("the 3rd minute | the 9th minute | the 12th minute | the 18th minute"
                     " | the 23rd minute | the 27th minute | the 31st minute | the 38th minute"
                     " | the 44th minute | the 52nd minute | the 57th minute | the 63rd minute"
                     " | the 68th minute | the 74th minute | the 79th minute | the 85th minute"
                     " | the 89th minute | the final minute"),
        "injury": _w("a hamstring strain | a twisted ankle | a knee ligament injury"
                     " | a calf problem | a groin strain | a dislocated shoulder"
                     " | a fractured wrist | a concussion | a thigh bruise | a back spasm"
                     " | a torn meniscus | a broken toe | a sprained knee | a hip flexor strain"
                     " | an Achilles complaint"),
        "stat": _w("two goals and an assist | a hat-trick | 31 points and 9 rebounds"
                   " | eight saves | a double-double | three assists | 12 tackles"
                   " | 24 points off the bench | two goal-line clearances | 14 rebounds"
                   " | four steals | a clean sheet | a goal and two assists"
                   " | 40 points | six key passes"),
        "position": _w("striker | goalkeeper | point guard | centre back | winger"
                       " | left back | midfielder | shooting guard | power forward | full back"
                       " | centre forward | playmaker | defensive midfielder | small forward"
                       " | right back"),
    }),
)

# --------------------------------------------------------------------- finance
_FINANCE = Grammar(
    titles=(
        "{company} shares jump on strong {quarter} results",
        "{bank} holds rates steady as inflation eases",
        "{index} slips as {sector} stocks retreat",
        "{company} agrees {amount} deal for {company_2}",
        "Investors weigh {bank} signals as {instrument} rally",
        "{executive} lays out growth plan for {company}",
        "Markets wrap: {index} closes {percent} higher",
    ),
    sentences=(
        "Shares of {company} rose {percent} in early trading after the firm reported {metric} ahead of analyst expectations.",
        "{company} posted {quarter} {metric} of {amount}, beating the consensus forecast compiled by {analyst_firm}.",
        "The {sector} sector led gains on {index}, which closed {percent} higher.",
        "{executive}, the chief executive of {company}, told investors on the earnings call that full-year guidance remains unchanged.",
        "Analysts at {analyst_firm} upgraded the stock to buy and raised their price target, citing strong free cash flow.",
        "{bank} left its benchmark interest rate unchanged, signalling that inflation is cooling faster than expected.",
        "{instrument} climbed after the latest payrolls data, pushing {index} down {percent}.",
        "{company} announced a share buyback worth {amount} and lifted its quarterly dividend.",
        "Bond traders are pricing in two rate cuts by year end, according to futures markets.",
        "The merger between {company} and {company_2}, valued at {amount}, still requires approval from antitrust regulators.",
        "Hedge funds increased short positions in {sector} stocks amid concerns over slowing consumer demand.",
        "{company_2} cut its {metric} outlook, and its shares slid {percent} in after-hours trading.",
        "Portfolio managers rotated out of growth stocks and into {sector} names with steady dividends.",
        "The spread between {instrument} and government debt widened to its highest level since the spring.",
        "{executive} said the company would prioritise margin expansion over revenue growth during {quarter}.",
        "Volatility jumped as investors digested hawkish comments from {bank}.",
        "{company} raised {amount} in an initial public offering that was three times oversubscribed.",
        "Currency markets were calm, with the dollar little changed against the euro and the yen.",
        "Institutional investors hold roughly {percent} of the outstanding shares of {company}, according to regulatory filings.",
        "Earnings season continues next week, with {company_2} and {company} scheduled to report.",
    ),
    slots=MappingProxyType({
        "company": _w("Arcadia Holdings | Brightline Capital | Corvex Energy | Deltaview Systems"
                      " | Everstone Retail | Fulcrum Logistics | Glenmore Pharma | Halcyon Motors"
                      " | Ironclad Insurance | Junction Telecom | Keystone Mining | Lumora Foods"
                      " | Meridian Semiconductors | Northwind Airlines | Orbis Payments"
                      " | Pinnacle Realty | Quorum Software | Redwater Utilities | Sablewood Bank"
                      " | Tessellate Robotics | Upland Chemicals | Vantage Media | Westmark Steel"
                      " | Zephyr Biotech"),
        "sector": _w("banking | energy | technology | healthcare | utilities | consumer staples"
                     " | industrials | real estate | semiconductor | telecom | mining | insurance"
                     " | retail | airline | pharmaceutical | automotive"),
        "executive": _w("Margaret Ellison | Victor Haldane | Priya Natarajan | Gordon Whitfield"
                        " | Helena Strauss | Raymond Okoye | Claire Dumont | Anders Vik"
                        " | Lorraine Pike | Kenji Morita | Beatriz Fonseca | Stuart Rennick"
                        " | Nadia Farouk | Oliver Brandt | Teresa Kowalski | Howard Lennox"
                        " | Amara Eze | Philippe Garnier"),
        "index": _w("the S&P 500 | the Dow Jones Industrial Average | the Nasdaq Composite"
                    " | the FTSE 100 | the Nikkei 225 | the DAX | the CAC 40 | the Hang Seng"
                    " | the Stoxx 600 | the Russell 2000 | the TSX composite | the ASX 200"
                    " | the Kospi | the IBEX 35 | the MSCI World index"),
        "percent": _w("0.4 percent | 0.8 percent | 1.2 percent | 1.7 percent | 2.3 percent"
                      " | 2.9 percent | 3.4 percent | 4.1 percent | 4.8 percent | 5.5 percent"
                      " | 6.2 percent | 7.0 percent | 8.6 percent | 9.3 percent | 11 percent"
                      " | 12.5 percent | 14 percent | 0.6 percent | 1.5 percent | 3.8 percent"),
        "amount": _w("$1.2 billion | $4.2 billion | $850 million | $310 million | $2.7 billion"
                     " | $6.5 billion | $95 million | $12 billion | $540 million | $3.1 billion"
                     " | $18 billion | $720 million | $1.9 billion | $460 million | $9.4 billion"
                     " | $230 million | $5.8 billion | $27 billion | $680 million | $2.2 billion"),
        "quarter": _w("first-quarter | second-quarter | third-quarter | fourth-quarter"
                      " | full-year | half-year | fiscal 2023 | fiscal 2024 | fiscal 2025"
                      " | holiday-quarter | year-to-date | trailing twelve-month | interim"
                      " | preliminary | quarterly"),
        "bank": _w("the Federal Reserve | the European Central Bank | the Bank of England"
                   " | the Bank of Japan | the Reserve Bank of Australia | the Bank of Canada"
                   " | the Swiss National Bank | the Riksbank | Norges Bank"
                   " | the Reserve Bank of New Zealand | the People's Bank of China"
                   " | the Reserve Bank of India | the Bank of Korea | Banco de Mexico"
                   " | the Central Bank of Brazil"),
        "instrument": _w("ten-year Treasury yields | two-year Treasury yields | corporate bonds"
                         " | crude oil futures | gold prices | high-yield bonds | copper futures"
                         " | natural gas futures | emerging-market debt | municipal bonds"
                         " | inflation-linked bonds | investment-grade credit | bank stocks"
                         " | European bond yields | the dollar index | mortgage rates"
                         " | commodity prices | bitcoin futures"),
        "analyst_firm": _w("Caldwell Securities | Harrow & Finch | Stanmore Research"
                           " | Oakridge Partners | Bellweather Advisors | Tidewater Equity"
                           " | Greyfield Analytics | Marlow Brothers | Lockhart Capital Markets"
                           " | Ridgeway Investment | Ashcombe Research | Pellham Securities"
                           " | Northbank Advisory | Quillon Partners | Sterling Vale"),
        "metric": _w("revenue | net income | operating profit | earnings per share"
                     " | free cash flow | gross margin | adjusted earnings | net interest income"
                     " | same-store sales | operating margin | EBITDA | net revenue"
                     " | subscription revenue | core profit | bookings"),
    }),
)

# --------------------------------------------------------------------- cooking
_COOKING = Grammar(
    titles=(
        "How to make {texture} {dish} at home",
        "{chef}'s weeknight {dish}",
        "A {cuisine} classic: {dish} with {ingredient}",
        "The secret to perfect {dish}",
        "{dish} with {herb} and {finish}",
        "Five ways to cook {ingredient}",
        "Recipe: {dish}, slow and simple",
    ),
    sentences=(
        "Start by heating olive oil in {cookware} and gently sweating {ingredient} until soft and fragrant.",
        "Season the {ingredient} generously with salt, pepper and a pinch of {spice} before {technique} it.",
        "Roast the tray at {temperature} for {time}, turning once, until the edges are {texture} and golden.",
        "{chef} learned to make {dish} in a small family kitchen, where {cuisine} cooking was a daily ritual.",
        "The secret to a good {dish} is patience, because {technique} the base slowly lets the flavours deepen.",
        "Fold in the {ingredient} and {ingredient_2}, then simmer uncovered for {time}.",
        "Whisk the eggs with melted butter and a spoonful of sugar until the mixture turns pale and {texture}.",
        "Serve the {dish} warm with crusty bread, a squeeze of lemon and a scattering of chopped {herb}.",
        "Leftovers keep in an airtight container in the fridge for up to three days.",
        "{chef}, who runs a {cuisine} restaurant in {city}, swaps {ingredient} for {ingredient_2} when it is out of season.",
        "For a vegetarian version, replace the {ingredient} with roasted mushrooms and a splash of soy sauce.",
        "Let the dough rest for {time} so the gluten relaxes and the crumb stays {texture}.",
        "Deglaze {cookware} with a glass of white wine, scraping up the browned bits from the bottom.",
        "A final drizzle of {finish} balances the richness of the sauce.",
        "Toast the {spice} in a dry pan for a minute to release its oils before grinding.",
        "This recipe serves four and takes about {time} from start to finish.",
        "Taste the sauce and adjust the seasoning with more salt, sugar or vinegar as needed.",
        "Traditional {cuisine} cooks insist that {dish} should never be rushed.",
        "Blanch the {ingredient} in salted boiling water, then plunge it into iced water to keep it {texture}.",
        "Brush the pastry with beaten egg and bake at {temperature} until puffed and deeply golden.",
        "Garnish each bowl with {finish} and a few sprigs of {herb} just before serving.",
    ),
    slots=MappingProxyType({
        "dish": _w("risotto | shakshuka | beef stew | lemon tart | chicken curry | focaccia"
                   " | ramen | paella | lasagne | mushroom soup | banana bread | ratatouille"
                   " | pad thai | chilli con carne | apple crumble | moussaka | dal"
                   " | fish pie | gnocchi | tagine | pancakes | bibimbap | clam chowder"
                   " | carrot cake | pierogi"),
        "ingredient": _w("garlic | shallots | leeks | chickpeas | aubergine | courgettes"
                         " | butternut squash | pork shoulder | chicken thighs | salmon fillets"
                         " | king prawns | lentils | spinach | cherry tomatoes | red peppers"
                         " | sweet potatoes | mushrooms | fennel | cauliflower | lamb mince"
                         " | cannellini beans | kale | parsnips | halloumi | tofu | beetroot"
                         " | asparagus | pancetta | broccoli | celeriac"),
        "herb": _w("parsley | coriander | basil | thyme | rosemary | dill | mint | chives"
                   " | tarragon | oregano | sage | bay leaves | chervil | marjoram | lovage"),
        "spice": _w("cumin | smoked paprika | turmeric | cinnamon | nutmeg | cardamom"
                    " | coriander seeds | fennel seeds | chilli flakes | star anise | cloves"
                    " | allspice | sumac | za'atar | garam masala | saffron | black pepper"
                    " | mustard seeds"),
        "technique": _w("roasting | braising | searing | poaching | grilling | sauteing"
                        " | steaming | caramelising | slow-cooking | pan-frying | baking"
                        " | blanching | stir-frying | charring | smoking | glazing | confiting"
                        " | simmering"),
        "cookware": _w("a cast-iron skillet | a Dutch oven | a heavy-based saucepan | a wok"
                       " | a roasting tin | a sturdy casserole dish | a non-stick frying pan"
                       " | a deep stockpot | a saute pan | a clay pot | a shallow braiser"
                       " | a copper pan | a tagine pot | a griddle pan | a large frying pan"),
        "chef": _w("Chef Amelia Rossi | Chef Tariq Haddad | Chef Lena Park | Chef Joaquin Ruiz"
                   " | Chef Marguerite Blanc | Chef Oluwaseun Adeyemi | Chef Hana Sato"
                   " | Chef Nikos Papadakis | Chef Greta Holm | Chef Ravi Menon"
                   " | Chef Lucia Moretti | Chef Samir Bennani | Chef Ingrid Solberg"
                   " | Chef Paolo Conti | Chef Mei Lin Zhou"),
        "time": _w("ten minutes | fifteen minutes | twenty minutes | twenty-five minutes"
                   " | half an hour | forty minutes | forty-five minutes | an hour"
                   " | an hour and a half | two hours | three hours | five minutes"
                   " | eight minutes | twelve minutes | fifty minutes"),
        "temperature": _w("180C | 200C | 220C | 160C | 150C | 190C | 170C | 230C | 140C"
                          " | 350 degrees Fahrenheit | 400 degrees Fahrenheit"
                          " | 425 degrees Fahrenheit | 375 degrees Fahrenheit"
                          " | 325 degrees Fahrenheit | 450 degrees Fahrenheit"),
        "texture": _w("crisp | silky | tender | fluffy | crunchy | creamy | flaky | glossy"
                      " | velvety | chewy | caramelised | juicy | light | airy | sticky"
                      " | melting | buttery | springy"),
        "cuisine": _w("Sicilian | Oaxacan | Lebanese | Korean | Provencal | Keralan | Basque"
                      " | Georgian | Sichuan | Moroccan | Peruvian | Ethiopian | Greek"
                      " | Vietnamese | Tuscan | Persian"),
        "finish": _w("chilli oil | toasted sesame seeds | creme fraiche | brown butter"
                     " | extra virgin olive oil | pomegranate molasses | garlic yoghurt"
                     " | salsa verde | lemon zest | crispy shallots | toasted pine nuts"
                     " | grated parmesan | aged balsamic | tahini dressing | crushed pistachios"),
    }),
)

# -------------------------------------------------------------------- medicine
_MEDICINE = Grammar(
    titles=(
        "New trial finds {drug} cuts {disease} complications",
        "{hospital} pioneers {procedure} for {patient_group}",
        "What {patient_group} should know about {disease}",
        "Study in {journal} links {symptom} to {disease}",
        "Regulators clear {drug} for {disease}",
        "Doctors warn of rising {disease} diagnoses",
        "Clinical update: {drug} and {disease}",
    ),
    sentences=(
        "Patients with {disease} who received {drug} showed a {effect} reduction in hospital admissions compared with placebo.",
        "The randomised controlled trial enrolled {patient_group} at {hospital} and several partner clinics.",
        "{researcher}, the lead author of the study published in {journal}, cautioned that the results need to be replicated.",
        "The most common side effects were {side_effect} and {side_effect_2}, which were generally mild.",
        "Clinicians at {hospital} now recommend screening {patient_group} for {disease} every two years.",
        "Early symptoms of {disease} include {symptom} and {symptom_2}, which are often mistaken for a viral infection.",
        "A daily dose of {dose} of {drug} lowered inflammatory markers within six weeks.",
        "Surgeons performed {procedure} on the patient, who was discharged after four days of observation.",
        "The drug works by blocking a receptor in the {organ}, reducing the production of inflammatory proteins.",
        "Regulators approved {drug} for the treatment of {disease} after a priority review.",
        "{researcher} said the findings could change how physicians manage {disease} in primary care.",
        "Participants who stopped taking {drug} early reported {side_effect} more often than those who completed the course.",
        "Blood tests revealed elevated enzyme levels, suggesting damage to the {organ}.",
        "Nurses monitored vital signs every hour, and no serious adverse events were recorded.",
        "The pathology report confirmed {disease}, and the care team discussed treatment options with the family.",
        "A meta-analysis in {journal} pooled data from more than forty trials involving {patient_group}.",
        "Physicians should consider {procedure} when patients with {disease} fail to respond to {drug}.",
        "Public health officials urged {patient_group} to discuss {disease} risk factors with their general practitioner.",
        "The diagnosis was delayed because early signs such as {symptom} were initially attributed to stress.",
        "Doctors at {hospital} are recruiting volunteers for a phase three trial of {drug}.",
    ),
    slots=MappingProxyType({
        "drug": _w("metformin | atorvastatin | lisinopril | semaglutide | apixaban"
                   " | amoxicillin | levothyroxine | omeprazole | sertraline | rituximab"
                   " | pembrolizumab | adalimumab | empagliflozin | warfarin | prednisolone"
                   " | methotrexate | insulin glargine | salbutamol | gabapentin | tamoxifen"
                   " | hydroxychloroquine | dapagliflozin | bisoprolol | tocilizumab"
                   " | clopidogrel"),
        "disease": _w("type 2 diabetes | hypertension | rheumatoid arthritis | asthma"
                      " | chronic kidney disease | heart failure | atrial fibrillation"
                      " | multiple sclerosis | Crohn's disease | psoriasis | osteoporosis"
                      " | major depressive disorder | hypothyroidism | migraine | pneumonia"
                      " | lupus | Parkinson's disease | chronic obstructive pulmonary disease"
                      " | breast cancer | sepsis | tuberculosis | hepatitis C | gout"
                      " | ulcerative colitis | Lyme disease"),
        "symptom": _w("fatigue | shortness of breath | chest pain | persistent cough"
                      " | joint stiffness | blurred vision | dizziness | night sweats"
                      " | unexplained weight loss | muscle weakness | numbness in the hands"
                      " | frequent urination | abdominal pain | a low-grade fever | palpitations"
                      " | swollen ankles | skin rashes | headaches | nausea | memory lapses"),
        "side_effect": _w("nausea | headache | dizziness | diarrhoea | insomnia | fatigue"
                          " | injection-site reactions | dry mouth | mild rash | constipation"
                          " | muscle aches | loss of appetite | low blood pressure"
                          " | elevated liver enzymes | joint pain"),
        "hospital": _w("St. Aldric's Hospital | Greenway Medical Center | Northfield General"
                       " | the Riverside University Hospital | Mercy Vale Clinic"
                       " | Hollins Memorial Hospital | the Eastbrook Heart Institute"
                       " | Westlake Children's Hospital | Kingsbury Infirmary"
                       " | the Lindenwood Cancer Centre | Ashgrove Teaching Hospital"
                       " | Harbourview Medical Center | Calder Royal Hospital"
                       " | the Brightwater Clinic | Fenwick County Hospital"
                       " | Sunnybank Regional Hospital"),
        "researcher": _w("Dr. Miriam Osei | Dr. Henrik Vestergaard | Dr. Anjali Rao"
                         " | Dr. Thomas Whitaker | Dr. Leila Haddadi | Dr. Marcus Feldman"
                         " | Dr. Sunita Kapoor | Dr. Erik Lindahl | Dr. Grace Mwangi"
                         " | Dr. Julian Crane | Dr. Yuki Tanabe | Dr. Rosa Delgado"
                         " | Dr. Patrick Nolan | Dr. Ayesha Siddiqui | Dr. Lukas Brandl"
                         " | Dr. Catherine Moyo | Dr. Samuel Adler | Dr. Ingrid Falk"),
        "journal": _w("The Lancet | the New England Journal of Medicine | JAMA | the BMJ"
                      " | Nature Medicine | the Annals of Internal Medicine | Circulation"
                      " | Diabetes Care | the Journal of Clinical Oncology | Thorax | Gut"
                      " | the European Heart Journal | Neurology | Pediatrics"
                      " | the Journal of Infectious Diseases"),
        "effect": _w("12 percent | 18 percent | 21 percent | 25 percent | 30 percent"
                     " | 34 percent | 40 percent | 45 percent | 15 percent | 27 percent"
                     " | 38 percent | 50 percent | 9 percent | 23 percent | 31 percent"),
        "organ": _w("liver | kidneys | lungs | heart | pancreas | thyroid gland | spleen"
                    " | gut lining | bone marrow | brain | adrenal glands | joints"
                    " | blood vessels | skin | colon"),
        "procedure": _w("a coronary angioplasty | laparoscopic surgery | a hip replacement"
                        " | a kidney transplant | a colonoscopy | a lumbar puncture"
                        " | deep brain stimulation | a heart valve repair | a cataract operation"
                        " | a bone marrow biopsy | radiofrequency ablation | a gastric bypass"
                        " | a knee arthroscopy | dialysis | a bronchoscopy | a mastectomy"
                        " | a cardiac catheterisation | a thyroidectomy"),
        "patient_group": _w("adults over 65 | children under five | pregnant women"
                            " | adolescents with obesity | smokers aged 50 to 75"
                            " | patients with kidney impairment | postmenopausal women"
                            " | people with a family history of heart disease"
                            " | elderly care home residents | healthcare workers"
                            " | adults with prediabetes | long-term steroid users"
                            " | people living with HIV | newly diagnosed patients"
                            " | transplant recipients"),
        "dose": _w("5 milligrams | 10 milligrams | 20 milligrams | 25 milligrams"
                   " | 40 milligrams | 50 milligrams | 75 milligrams | 100 milligrams"
                   " | 150 milligrams | 200 milligrams | 250 milligrams | 500 milligrams"
                   " | 1 gram | 2.5 milligrams | 0.5 milligrams"),
    }),
)

# ------------------------------------------------------------------- astronomy
_ASTRONOMY = Grammar(
    titles=(
        "{telescope} spots {phenomenon} near {object}",
        "A new look at {object} from {observatory}",
        "{mission} sends final images of {planet}",
        "{astronomer} maps hidden structure in {constellation}",
        "Why {object} is brighter than expected",
        "Skywatch: {planet} and {constellation} this month",
        "Astronomers revisit {object} in {wavelength} light",
    ),
    sentences=(
        "Astronomers using {telescope} detected {phenomenon} in the direction of {constellation}.",
        "{object}, located roughly {distance} from Earth, has puzzled researchers for decades.",
        "The spectrum captured by {instrument} revealed traces of water vapour and methane in the atmosphere of {planet}.",
        "{astronomer} and colleagues at {observatory} measured the orbital period of the companion star with unprecedented precision.",
        "Observations in {wavelength} light show a ring of cold dust orbiting {object}.",
        "{mission} completed its final flyby of {planet} before entering a graveyard orbit.",
        "Amateur skywatchers can spot {planet} low on the western horizon shortly after sunset this month.",
        "The light now reaching our telescopes from {object} left its source before the Sun and Earth had formed.",
        "Simulations suggest that {phenomenon} could explain the unusual brightening of {object}.",
        "{astronomer} said the discovery challenges current models of galaxy formation in the early universe.",
        "Data from {telescope} and {telescope_2} were combined to build a three-dimensional map of the nebula.",
        "The exoplanet orbits within the habitable zone of its red dwarf host star, where liquid water could exist.",
        "Gravitational waves from the merger of two black holes were recorded by detectors on two continents.",
        "Researchers estimate that {object} is shedding mass into interstellar space at a remarkable rate.",
        "A meteor shower radiating from {constellation} will peak before dawn, with up to sixty meteors per hour.",
        "The team plans follow-up observations with {instrument} once {object} emerges from behind the Sun.",
        "Redshift measurements place the galaxy cluster about {distance} away, far beyond the Milky Way.",
        "Engineers at {observatory} upgraded the adaptive optics system to correct for atmospheric turbulence.",
        "Scientists working on {mission} released new images showing dust storms sweeping across the surface of {planet}.",
        "Stellar nurseries like {object} glow brightly in {wavelength} images as newborn stars heat the surrounding gas.",
    ),
    slots=MappingProxyType({
        "object": _w("the Andromeda Galaxy | Betelgeuse | the Orion Nebula | Sagittarius A*"
                     " | the Crab Nebula | Proxima Centauri | the Pleiades cluster | Eta Carinae"
                     " | the Large Magellanic Cloud | Vega | the Eagle Nebula | Polaris"
                     " | the Whirlpool Galaxy | Sirius B | the Carina Nebula | Alpha Centauri"
                     " | the Ring Nebula | Cygnus X-1 | the Triangulum Galaxy | Rigel"
                     " | the Helix Nebula | Messier 87 | the Sombrero Galaxy | Antares"
                     " | TRAPPIST-1"),
        "planet": _w("Jupiter | Saturn | Mars | Venus | Neptune | Uranus | Mercury"
                     " | the dwarf planet Pluto | the exoplanet Kepler-186f"
                     " | the exoplanet WASP-39b | the exoplanet K2-18b"
                     " | the exoplanet TRAPPIST-1e | the dwarf planet Ceres"
                     " | the exoplanet 51 Pegasi b | the exoplanet HD 189733b"),
        "telescope": _w("the James Webb Space Telescope | the Hubble Space Telescope"
                        " | the Very Large Telescope | the Atacama Large Millimeter Array"
                        " | the Chandra X-ray Observatory | the Keck telescopes"
                        " | the Gaia spacecraft | the Event Horizon Telescope"
                        " | the Subaru Telescope | the Gemini North telescope"
                        " | the Spitzer Space Telescope | the Green Bank Telescope"
                        " | the Fermi Gamma-ray Space Telescope | the Euclid telescope"
                        " | the Vera Rubin Observatory | the MeerKAT radio array"),
        "astronomer": _w("astronomer Clara Westbrook | astrophysicist Rahul Venkat"
                         " | astronomer Ingrid Solheim | cosmologist Daniel Ashby"
                         " | astronomer Mei Takahashi | astrophysicist Omar Khalil"
                         " | planetary scientist Lucy Carrow | astronomer Pablo Ibarra"
                         " | astrophysicist Nora Lindgren | astronomer Felix Obuya"
                         " | cosmologist Hannah Pryce | planetary scientist Arjun Desai"
                         " | astronomer Tobias Werner | astrophysicist Selin Aydin"
                         " | astronomer Grace Holloway | radio astronomer Ivan Petrov"),
        "phenomenon": _w("a gamma-ray burst | a fast radio burst | a supernova explosion"
                         " | a tidal disruption event | a gravitational lensing arc"
                         " | a stellar flare | a kilonova | a relativistic jet"
                         " | a planetary transit | a dwarf nova outburst | a magnetar flare"
                         " | an accretion disk | a protoplanetary disk | a stellar wind bubble"
                         " | a pulsar glitch | an Einstein ring | a comet tail | a solar prominence"),
        "distance": _w("4.2 light-years | 8.6 light-years | 25 light-years | 120 light-years"
                       " | 640 light-years | 1,300 light-years | 6,500 light-years"
                       " | 26,000 light-years | 160,000 light-years | 2.5 million light-years"
                       " | 3 million light-years | 31 million light-years"
                       " | 55 million light-years | 1.2 billion light-years"
                       " | 11 billion light-years | 40 light-years"),
        "instrument": _w("the near-infrared spectrograph | the mid-infrared instrument"
                         " | a high-resolution echelle spectrograph | the wide-field camera"
                         " | the coronagraph | an integral field unit | the X-ray imaging array"
                         " | a radio interferometer | the ultraviolet spectrometer"
                         " | a photometer | the fine guidance sensor | a polarimeter"
                         " | the infrared imager | the submillimetre bolometer"
                         " | a Fabry-Perot etalon"),
        "observatory": _w("the Mauna Kea Observatories | the Paranal Observatory"
                          " | the Arecibo site | the Lowell Observatory | the La Silla Observatory"
                          " | the Palomar Observatory | the Jodrell Bank Observatory"
                          " | the Roque de los Muchachos Observatory | the Siding Spring Observatory"
                          " | the Kitt Peak National Observatory | the Parkes Observatory"
                          " | the Cerro Tololo Observatory | the Yerkes Observatory"
                          " | the Mount Wilson Observatory | the Calar Alto Observatory"),
        "mission": _w("the Cassini spacecraft | the Juno probe | the Voyager 2 probe"
                      " | the New Horizons spacecraft | the Perseverance rover | the Dawn probe"
                      " | the Rosetta orbiter | the Mars Express orbiter | the Juice probe"
                      " | the Europa Clipper | the Hayabusa2 probe | the Parker Solar Probe"
                      " | the BepiColombo probe | the Lucy spacecraft | the Psyche probe"),
        "wavelength": _w("infrared | radio | X-ray | ultraviolet | optical | millimetre"
                         " | submillimetre | gamma-ray | microwave | near-infrared"
                         " | mid-infrared | far-ultraviolet | hydrogen-alpha | far-infrared"
                         " | visible"),
        "constellation": _w("Orion | Cygnus | Sagittarius | Andromeda | Cassiopeia | Lyra"
                            " | Perseus | Taurus | Scorpius | Ursa Major | Centaurus | Draco"
                            " | Aquila | Carina | Gemini | Leo | Virgo | Pegasus | Auriga"
                            " | Canis Major"),
    }),
)

# ------------------------------------------------------------------------- law
_LAW = Grammar(
    titles=(
        "{court} rules against {defendant} in {legal_issue} case",
        "{judge} blocks enforcement of {statute} provision",
        "{plaintiff} sue {defendant} over {legal_issue}",
        "{defendant} settles {legal_issue} claims for {damages}",
        "Appeal tests the limits of {doctrine}",
        "What the ruling by {court} means for {statute}",
        "Legal brief: {legal_issue} and {doctrine}",
    ),
    sentences=(
        "{court} ruled that {defendant} violated {statute} by failing to disclose material information.",
        "{judge} {outcome}, finding that the plaintiffs lacked standing to bring the claim.",
        "The lawsuit, filed by {plaintiff}, alleges {legal_issue} and seeks {damages}.",
        "Attorneys for {defendant} argued that the claims were barred by the statute of limitations.",
        "{attorney}, who represents {plaintiff}, said the clients would appeal the decision to {court}.",
        "The appellate panel reversed the lower court, holding that {doctrine} protected the defendant's conduct.",
        "In a written opinion, {judge} wrote that the arbitration clause in the contract was unenforceable.",
        "A jury in {court} awarded {damages} after a three-week trial over {legal_issue}.",
        "The dissenting justices warned that the majority's reading of {statute} would invite years of litigation.",
        "Prosecutors dropped the remaining charges against {defendant} after key evidence was suppressed.",
        "Legal scholars say the case could reshape how courts interpret {doctrine}.",
        "{defendant} agreed to a settlement of {damages} without admitting wrongdoing.",
        "Oral arguments are scheduled before {court} next term, with amicus briefs due within sixty days.",
        "The motion to compel discovery was granted, and {defendant} must produce internal emails within thirty days.",
        "{attorney} told the court that the testimony of the expert witness was inadmissible hearsay.",
        "Lawmakers amended {statute} last year, but the new provisions do not apply retroactively.",
        "The class action accuses {defendant} of {legal_issue} affecting thousands of consumers.",
        "{judge} issued a preliminary injunction blocking enforcement of the regulation pending appeal.",
        "Citing {doctrine}, the defence asked {court} to dismiss the indictment.",
        "The parties have until the end of the month to file supplemental briefs on {legal_issue}.",
    ),
    slots=MappingProxyType({
        "court": _w("the Supreme Court | the Ninth Circuit Court of Appeals"
                    " | the Second Circuit Court of Appeals | a federal district court"
                    " | the state supreme court | the Court of Appeal | the High Court"
                    " | the Delaware Court of Chancery | the Federal Circuit"
                    " | the tax court | the bankruptcy court | the Fifth Circuit Court of Appeals"
                    " | the Court of Justice of the European Union | the Commercial Court"
                    " | the employment tribunal | the county court | the DC Circuit"
                    " | the Court of Federal Claims"),
        "judge": _w("Judge Eleanor Prescott | Justice Walter Hargrove | Judge Amina Lawal"
                    " | Justice Roberto Castellano | Judge Deborah Kwan | Justice Neil Abernathy"
                    " | Judge Samuel Okonjo | Judge Patricia Lindqvist | Justice Howard Beale"
                    " | Judge Rosalind Achebe | Justice Martin Ferreira | Judge Caroline Dufresne"
                    " | Judge Theodore Marsh | Justice Lydia Ostrowski | Judge Franklin Ngata"
                    " | Judge Miriam Stoltz | Justice Edmund Rourke | Judge Vivian Castell"),
        "statute": _w("the Clean Water Act | the Securities Exchange Act | the Sherman Act"
                      " | the Fair Housing Act | the Americans with Disabilities Act"
                      " | the Freedom of Information Act | the Civil Rights Act"
                      " | the Fair Labor Standards Act | the Computer Fraud and Abuse Act"
                      " | the Endangered Species Act | the Telephone Consumer Protection Act"
                      " | the Digital Millennium Copyright Act | the Data Protection Act"
                      " | the Foreign Corrupt Practices Act | the Clean Air Act"
                      " | the Consumer Credit Act | the Bankruptcy Code | the Lanham Act"),
        "plaintiff": _w("a group of tenants | the state attorney general | former employees"
                        " | a coalition of environmental groups | a consumer advocacy group"
                        " | independent musicians | a teachers' union | shareholders"
                        " | a family of farmers | local residents | a trade association"
                        " | a software developer | patients' families | a city council"
                        " | franchise owners | a civil liberties organisation"
                        " | delivery drivers | a group of authors"),
        "defendant": _w("Brannock Industries | the county sheriff's office | Veltrix Media"
                        " | Hartwell Pharmaceuticals | Castellan Properties | Norvane Chemicals"
                        " | the state transport department | Ostrander Bank | Calloway Foods"
                        " | Pemberton Logistics | the city housing authority | Quayside Apps"
                        " | Ravensworth Mining | Tellus Data | Windmere Insurance"
                        " | Ardent Health Systems | Greyhaven Construction | Lumina Networks"),
        "attorney": _w("attorney Rachel Goldfarb | counsel Martin Achterberg"
                       " | attorney Denise Okafor | lawyer Gregory Pask | counsel Sofia Reyes"
                       " | attorney Charles Wexley | barrister Imogen Hale | lawyer Adebayo Cole"
                       " | attorney Linda Marchetti | counsel Peter Vukovic | attorney Janet Orr"
                       " | barrister Hugo Pemberton | lawyer Keiko Yamada | counsel David Rosen"
                       " | attorney Fatima Noor | solicitor Alan Birch"),
        "legal_issue": _w("breach of contract | copyright infringement | wrongful termination"
                          " | securities fraud | price fixing | patent infringement"
                          " | age discrimination | unpaid overtime | data privacy violations"
                          " | defamation | negligence | trademark dilution | unlawful eviction"
                          " | false advertising | insider trading | environmental contamination"
                          " | antitrust violations | breach of fiduciary duty"),
        "outcome": _w("dismissed the complaint | granted summary judgment to the defendants"
                      " | denied the motion to intervene | rejected the class certification request"
                      " | granted the motion to dismiss | vacated the earlier order"
                      " | struck down the contested clause | declined to issue a stay"
                      " | sanctioned the plaintiffs' counsel | remanded the case to state court"
                      " | sustained the objection | denied the petition for review"
                      " | quashed the subpoena | set aside the jury verdict"
                      " | refused to reopen the case"),
        "doctrine": _w("the First Amendment | due process | qualified immunity"
                       " | the fair use doctrine | sovereign immunity | the commerce clause"
                       " | equal protection | attorney-client privilege | res judicata"
                       " | the exclusionary rule | the business judgment rule"
                       " | the major questions doctrine | promissory estoppel"
                       " | the Fourth Amendment | the right to a fair trial"),
        "damages": _w("$3.5 million in damages | $12 million in compensation"
                      " | $750,000 in damages | $48 million in restitution"
                      " | $1.1 million in back pay | $220 million in penalties"
                      " | $9 million in punitive damages | $400,000 in legal costs"
                      " | $65 million in statutory damages | $2.8 million in compensation"
                      " | $15 million in civil penalties | $5 million in damages"
                      " | $130 million in restitution | $600,000 in back pay"
                      " | $27 million in damages"),
    }),
)

DOMAIN_GRAMMARS: Mapping[str, Grammar] = MappingProxyType({
    "sports": _SPORTS,
    "finance": _FINANCE,
    "cooking": _COOKING,
    "medicine": _MEDICINE,
    "astronomy": _ASTRONOMY,
    "law": _LAW,
})
