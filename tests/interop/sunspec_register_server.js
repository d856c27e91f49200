// The parts both interop servers share: a holding-register image with SunSpec-style writers, and
// serving that image read-only over Modbus TCP with modbus-serial (a Modbus implementation we did
// not write) on 127.0.0.1. Any address outside the image, and every write, gets exception 2
// (illegal data address).
"use strict";

const ModbusRTU = require("modbus-serial");

class RegisterImage {
  constructor() {
    this.regs = new Map(); // address -> uint16
  }
  put(address, value) {
    this.regs.set(address, value & 0xffff);
  }
  putString(address, sizeRegs, text) {
    const bytes = Buffer.alloc(sizeRegs * 2); // NUL-padded
    bytes.write(text, "ascii");
    for (let i = 0; i < sizeRegs; i++) this.put(address + i, bytes.readUInt16BE(2 * i));
  }
  putInt16(address, value) {
    this.put(address, value < 0 ? 0x10000 + value : value);
  }
  putUint32(address, value) {
    this.put(address, Math.floor(value / 0x10000));
    this.put(address + 1, value % 0x10000);
  }
}

function illegalAddress() {
  const err = new Error("illegal data address");
  err.modbusErrorCode = 0x02;
  return err;
}

// Serves `image` for unit id `unitId` only (other unit ids get no reply at all, as on a TCP device
// without a gateway). Prints "listening PORT" once bound; stops on SIGTERM or SIGINT.
// `port` is a string: modbus-serial reads `options.port || 502`, so a numeric 0 would become 502;
// the string "0" is truthy and Node's listen() accepts it as "any free port".
function serve(image, { port, unitId, name }) {
  const vector = {
    getHoldingRegister(address) {
      if (!image.regs.has(address)) throw illegalAddress();
      return image.regs.get(address);
    },
    getInputRegister() {
      throw illegalAddress();
    },
    getCoil() {
      throw illegalAddress();
    },
    getDiscreteInput() {
      throw illegalAddress();
    },
    setRegister() {
      throw illegalAddress();
    },
    setCoil() {
      throw illegalAddress();
    },
  };
  const server = new ModbusRTU.ServerTCP(vector, { host: "127.0.0.1", port, unitID: unitId });
  server.on("initialized", () => {
    process.stdout.write(`listening ${server._server.address().port}\n`);
  });
  server.on("serverError", (err) => {
    console.error(`${name}: ${err.message}`);
    process.exit(1);
  });
  server.on("socketError", (err) => {
    console.error(`${name}: socket: ${err.message}`);
  });
  function stop() {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  }
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  return server;
}

module.exports = { RegisterImage, serve };
