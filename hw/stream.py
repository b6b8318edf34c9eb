"""AXI-Stream interface signature for Amaranth components.

Members are named as AMBA AXI4-Stream names them (``tdata``, ``tvalid``, ``tready``, ``tlast``);
Amaranth flattens a port ``s_axis`` of this signature to ``s_axis__tdata`` … in Verilog. A transfer
happens on a rising clock edge where ``tvalid`` and ``tready`` are both high.
"""

from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class AxiStreamSignature(wiring.Signature):
    """AXI4-Stream with ``tdata`` of ``width`` bits, ``tvalid``, ``tready`` and ``tlast``.

    The signature is from the source's view: ``Out(AxiStreamSignature(w))`` is a master (source)
    port, ``In(AxiStreamSignature(w))`` a slave (sink) port.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        super().__init__({"tdata": Out(width), "tvalid": Out(1), "tready": In(1), "tlast": Out(1)})
