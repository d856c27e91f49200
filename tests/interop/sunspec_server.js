#!/usr/bin/env node
// A SunSpec inverter served by modbus-serial (a Modbus implementation we did not write), for the
// interop tests in tests/integration/scan_test.cpp.
//
//   node tests/interop/sunspec_server.js [PORT]     (PORT 0 or absent: the OS picks one)
//
// Prints "listening PORT" on stdout once the socket is bound. Listens on 127.0.0.1 only and
// answers unit id 1 only (modbus-serial's `unitID` option: other unit ids get no reply at all, as
// on a TCP device without a gateway). Holding registers, SunSpec base 40000:
//   40000 "SunS" | model 1 (L=66): Mn "InteropCo", Md "JS-Inverter", Opt, Vr "2.1.0", SN "JS123",
//   DA 1 | model 103 (L=50): three-phase inverter, 4.2 kW | end marker 0xFFFF, L=0.
// Offsets are typed in from the SunSpec model definitions, not taken from Gridlet's tables.
// Any other address gets exception 2 (illegal data address). Stops on SIGTERM or SIGINT.
"use strict";

const { RegisterImage, serve } = require("./sunspec_register_server");

const BASE = 40000;
const image = new RegisterImage();
const put = image.put.bind(image);
const putString = image.putString.bind(image);
const putInt16 = image.putInt16.bind(image);
const putUint32 = image.putUint32.bind(image);

// "SunS"
put(BASE, 0x5375);
put(BASE + 1, 0x6e53);

// Model 1, common: ID, L, Mn[16], Md[16], Opt[8], Vr[8], SN[16], DA, Pad.
const m1 = BASE + 2;
put(m1, 1);
put(m1 + 1, 66);
putString(m1 + 2, 16, "InteropCo");
putString(m1 + 18, 16, "JS-Inverter");
putString(m1 + 34, 8, "opt-a");
putString(m1 + 42, 8, "2.1.0");
putString(m1 + 50, 16, "JS123");
put(m1 + 66, 1); // DA
put(m1 + 67, 0x8000); // Pad

// Model 103, three-phase inverter (integer + scale factors).
const m103 = m1 + 2 + 66;
const NA16 = 0xffff; // uint16 "not implemented"
const NAI16 = 0x8000; // int16 / sunssf "not implemented"
put(m103, 103);
put(m103 + 1, 50);
put(m103 + 2, 1830); // A        18.30 A
put(m103 + 3, 610); // AphA
put(m103 + 4, 610); // AphB
put(m103 + 5, 610); // AphC
putInt16(m103 + 6, -2); // A_SF
put(m103 + 7, 4000); // PPVphAB  400.0 V
put(m103 + 8, 4000); // PPVphBC
put(m103 + 9, 4000); // PPVphCA
put(m103 + 10, 2300); // PhVphA  230.0 V
put(m103 + 11, 2300); // PhVphB
put(m103 + 12, 2300); // PhVphC
putInt16(m103 + 13, -1); // V_SF
putInt16(m103 + 14, 4200); // W   4200 W
putInt16(m103 + 15, 0); // W_SF
put(m103 + 16, 5000); // Hz     50.00 Hz
putInt16(m103 + 17, -2); // Hz_SF
putInt16(m103 + 18, 4210); // VA
putInt16(m103 + 19, 0); // VA_SF
putInt16(m103 + 20, 120); // VAr
putInt16(m103 + 21, 0); // VAr_SF
putInt16(m103 + 22, 998); // PF  99.8 % (units Pct)
putInt16(m103 + 23, -1); // PF_SF
putUint32(m103 + 24, 12345678); // WH (acc32)
putInt16(m103 + 26, 0); // WH_SF
put(m103 + 27, 1050); // DCA    10.50 A
putInt16(m103 + 28, -2); // DCA_SF
put(m103 + 29, 4150); // DCV    415.0 V
putInt16(m103 + 30, -1); // DCV_SF
putInt16(m103 + 31, 4350); // DCW
putInt16(m103 + 32, 0); // DCW_SF
putInt16(m103 + 33, 412); // TmpCab 41.2 C
put(m103 + 34, NAI16); // TmpSnk  not implemented
put(m103 + 35, NAI16); // TmpTrns not implemented
put(m103 + 36, NAI16); // TmpOt   not implemented
putInt16(m103 + 37, -1); // Tmp_SF
put(m103 + 38, 4); // St = MPPT
put(m103 + 39, NA16); // StVnd not implemented
for (let a = m103 + 40; a < m103 + 52; a++) put(a, 0); // Evt1, Evt2, EvtVnd1..4 (bitfield32)

// End marker.
const end = m103 + 2 + 50;
put(end, 0xffff);
put(end + 1, 0);

const arg = process.argv[2] === undefined ? "0" : process.argv[2];
if (!/^\d+$/.test(arg) || Number(arg) > 65535) {
  console.error(`usage: sunspec_server.js [PORT]  ("${arg}" is not a port)`);
  process.exit(2);
}
serve(image, { port: arg, unitId: 1, name: "sunspec_server" });
