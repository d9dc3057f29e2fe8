// ES module entry of the PrepMate browser telemetry SDK: the logic lives in telemetry.js.
import './telemetry.js';

export const { TelemetryService, SyncService, uuidv7 } = globalThis.PrepMateTelemetry;
export default globalThis.PrepMateTelemetry;
