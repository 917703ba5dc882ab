"""/statistik per kecamatan: counts by the place's kecamatan, a place shown only for public tickets."""

from __future__ import annotations

from typing import Any

from conversations import lifecycle as lc
from gateway.store.models import Contact
from gateway.tickets.service import Actor, create_ticket, transition
from gateway.tickets.statistics import stats_for
from tests.tickets.conftest import operator_actor


def _file(runtime: Any, location_text: str, privacy: str = "public", dispose: bool = True) -> None:
    coordinator = operator_actor(runtime, "coordinator", "diskominfo")
    with runtime.db.session() as session:
        contact = Contact(display_name="Siti", language="id")
        session.add(contact)
        session.flush()
        ticket = create_ticket(
            session,
            runtime,
            contact=contact,
            description="Sampah menumpuk sudah seminggu tidak diangkut",
            category="sampah",
            location_text=location_text,
            privacy=privacy,
            privacy_chosen=True,
            channel="telegram",
            address="telegram:5550001",
        )
        if dispose:
            transition(session, runtime, ticket, lc.DISPOSE, coordinator, agency="dlh")


def _by_kecamatan(runtime: Any, actor: Actor) -> dict[Any, tuple[str | None, int]]:
    with runtime.db.session() as session:
        figures = stats_for(runtime, session, actor=actor)
    return {row["code"]: (row["name"], row["total"]) for row in figures["kecamatan"]}


def test_public_tickets_count_under_their_kecamatan_the_rest_under_unknown(runtime: Any, client: Any) -> None:
    _file(runtime, "Jl. Cigadung Raya, Kel. Cigadung")
    _file(runtime, "kel. sukaluyu")
    _file(runtime, "kec coblong")
    _file(runtime, "kel. sekeloa", privacy="confidential")  # verified, but its place is not public
    _file(runtime, "kel. dago", dispose=False)  # not verified yet
    _file(runtime, "Jl. Melati 12")  # names no area
    public = _by_kecamatan(runtime, Actor.public())
    assert public == {"32.73.18": ("Cibeunying Kaler", 2), "32.73.02": ("Coblong", 1), None: (None, 3)}
    # The coordinator sees every ticket's place.
    city = _by_kecamatan(runtime, operator_actor(runtime, "coordinator", "diskominfo"))
    assert city == {"32.73.18": ("Cibeunying Kaler", 2), "32.73.02": ("Coblong", 3), None: (None, 1)}

    page = client.get("/statistik").get_data(as_text=True)
    section = page[page.index('id="kecamatan"') :]
    section = section[: section.index("</section>")]
    assert "Per kecamatan" in section and "Cibeunying Kaler" in section and "Coblong" in section
    assert "Lokasi tidak diketahui atau tidak ditampilkan" in section
    english = client.get("/statistik?lang=en").get_data(as_text=True)
    assert "By kecamatan (district)" in english
