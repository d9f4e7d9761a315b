"""A local stand-in for the ECB's daily reference rates feed, in the feed's own format.

Written from the ECB's documented structure of eurofxref-daily.xml: a gesmes:Envelope with a
subject, a sender, and one Cube per reference day holding a Cube per currency, attributes in
single quotes, tab indentation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from tests.fakes.http_server import HttpServer, Request, Response

SAMPLE_RATES = {
    "USD": "1.0842",
    "JPY": "162.45",
    "BGN": "1.9558",
    "CZK": "25.311",
    "GBP": "0.84365",
    "HUF": "402.15",
    "CHF": "0.9383",
    "ISK": "150.70",
}


def reference_rates_xml(day: date, rates: Mapping[str, str] = SAMPLE_RATES) -> bytes:
    cubes = "".join(
        f"\t\t\t<Cube currency='{currency}' rate='{rate}'/>\n" for currency, rate in rates.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
        "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
        "\t<gesmes:Sender>\n"
        "\t\t<gesmes:name>European Central Bank</gesmes:name>\n"
        "\t</gesmes:Sender>\n"
        "\t<Cube>\n"
        f"\t\t<Cube time='{day.isoformat()}'>\n"
        f"{cubes}"
        "\t\t</Cube>\n"
        "\t</Cube>\n"
        "</gesmes:Envelope>\n"
    ).encode()


class EcbFeedServer:
    """Serves `document` at /stats/eurofxref/eurofxref-daily.xml; counts requests."""

    PATH = "/stats/eurofxref/eurofxref-daily.xml"

    def __init__(self, document: bytes) -> None:
        self.document = document
        self.requests = 0
        self._server = HttpServer(self._handle)

    @property
    def url(self) -> str:
        return self._server.url + self.PATH

    async def start(self) -> None:
        await self._server.start()

    async def close(self) -> None:
        await self._server.close()

    async def _handle(self, request: Request) -> Response:
        if request.method != "GET" or request.path != self.PATH:
            return Response(404)
        self.requests += 1
        return Response(200, self.document, {"Content-Type": "text/xml"})
