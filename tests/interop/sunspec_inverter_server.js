#!/usr/bin/env node
// A live SunSpec inverter served by modbus-serial (a Modbus implementation we did not write), for
// tests/integration/building_test.cpp: gatewayd discovers it and polls it like a device in a
// building.
//
//   node tests/interop/sunspec_inverter_server.js [PORT] [--unit N] [--base 40000|0|50000]
//
// PORT 0 or absent: the OS picks one. Prints "listening PORT" on stdout once the socket is bound.
// Listens on 127.0.0.1 only and answers unit id N only (default 1; other unit ids get no reply at
// all). Holding registers, from the SunSpec base (default 40000):
//   "SunS" | model 1 (L=66): Mn "InteropCo", Md "JS-Live", Vr "3.0.1", SN "JSLIVE7"
//          | model 64900 (L=4): a vendor model the gateway does not know (skipped by its length)
//          | model 103 (L=50): three-phase inverter | end marker 0xFFFF, L=0.
// Model 103 uses scale factors other than 0 on purpose, so that a reader must apply them:
//   W 5432, W_SF -1 (543.2 W); A 237, A_SF -2 (2.37 A); PhVphA/B/C 2301/2302/2303, V_SF -1;
//   Hz 4998, Hz_SF -2 (49.98 Hz); WH (acc32) starts at 123456, WH_SF 1 (1,234,560 Wh) and grows
//   by one (10 Wh) every 500 ms, so a poller sees the device move; TmpSnk 0x8000 (not
//   implemented); St 4 (MPPT).
// Offsets are typed in from the SunSpec model definitions, not taken from Gridlet's tables. Any
// other address gets exception 2 (illegal data address), writes too. Stops on SIGTERM or SIGINT.
"use strict";

const { RegisterImage, serve } = require("./sunspec_register_server");

function usage(message) {
  console.error(`sunspec_inverter_server.js: ${message}`);
  console.error("usage: sunspec_inverter_server.js [PORT] [--unit N] [--base 40000|0|50000]");
  process.exit(2);
}

let portArg = "0";
let unitId = 1;
let base = 40000;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--unit" || a === "--base") {
    const v = argv[++i];
    if (v === undefined || !/^\d+$/.test(v)) usage(`${a} needs a number`);
    if (a === "--unit") {
      unitId = Number(v);
      if (unitId < 1 || unitId > 247) usage("--unit must be 1..247");
    } else {
      base = Number(v);
      if (![40000, 0, 50000].includes(base)) usage("--base must be 40000, 0 or 50000");
    }
  } else if (/^\d+$/.test(a) && Number(a) <= 65535) {
    portArg = a;
  } else {
    usage(`"${a}" is not a port or an option`);
  }
}

const image = new RegisterImage();
const put = image.put.bind(image);
const putString = image.putString.bind(image);
const putInt16 = image.putInt16.bind(image);
const putUint32 = image.putUint32.bind(image);

// "SunS"
put(base, 0x5375);
put(base + 1, 0x6e53);

// Model 1, common: ID, L, Mn[16], Md[16], Opt[8], Vr[8], SN[16], DA, Pad.
const m1 = base + 2;
put(m1, 1);
put(m1 + 1, 66);
putString(m1 + 2, 16, "InteropCo");
putString(m1 + 18, 16, "JS-Live");
putString(m1 + 34, 8, "");
putString(m1 + 42, 8, "3.0.1");
putString(m1 + 50, 16, "JSLIVE7");
put(m1 + 66, unitId); // DA
put(m1 + 67, 0x8000); // Pad

// A vendor model (64900..65534 are vendor ids): four registers of whatever.
const vendor = m1 + 2 + 66;
put(vendor, 64900);
put(vendor + 1, 4);
for (let i = 0; i < 4; i++) put(vendor + 2 + i, 0xbeef);

// Model 103, three-phase inverter (integer + scale factors).
const m103 = vendor + 2 + 4;
const NA16 = 0xffff; // uint16 "not implemented"
const NAI16 = 0x8000; // int16 / sunssf "not implemented"
put(m103, 103);
put(m103 + 1, 50);
put(m103 + 2, 237); // A         2.37 A
put(m103 + 3, 79); // AphA
put(m103 + 4, 79); // AphB
put(m103 + 5, 79); // AphC
putInt16(m103 + 6, -2); // A_SF
put(m103 + 7, 3985); // PPVphAB  398.5 V
put(m103 + 8, 3987); // PPVphBC
put(m103 + 9, 3989); // PPVphCA
put(m103 + 10, 2301); // PhVphA  230.1 V
put(m103 + 11, 2302); // PhVphB  230.2 V
put(m103 + 12, 2303); // PhVphC  230.3 V
putInt16(m103 + 13, -1); // V_SF
putInt16(m103 + 14, 5432); // W   543.2 W
putInt16(m103 + 15, -1); // W_SF
put(m103 + 16, 4998); // Hz     49.98 Hz
putInt16(m103 + 17, -2); // Hz_SF
putInt16(m103 + 18, 5450); // VA   545.0 VA
putInt16(m103 + 19, -1); // VA_SF
putInt16(m103 + 20, 120); // VAr  12.0 var
putInt16(m103 + 21, -1); // VAr_SF
putInt16(m103 + 22, 997); // PF  99.7 (units Pct)
putInt16(m103 + 23, -1); // PF_SF
let wh = 123456;
putUint32(m103 + 24, wh); // WH (acc32)
putInt16(m103 + 26, 1); // WH_SF    x10
put(m103 + 27, 139); // DCA      1.39 A
putInt16(m103 + 28, -2); // DCA_SF
put(m103 + 29, 4012); // DCV    401.2 V
putInt16(m103 + 30, -1); // DCV_SF
putInt16(m103 + 31, 5580); // DCW  558.0 W
putInt16(m103 + 32, -1); // DCW_SF
putInt16(m103 + 33, 385); // TmpCab 38.5 C
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

// The energy counter moves (between requests: a read of the model is served in one go).
setInterval(() => {
  wh += 1;
  putUint32(m103 + 24, wh);
}, 500).unref();

serve(image, { port: portArg, unitId, name: "sunspec_inverter_server" });
