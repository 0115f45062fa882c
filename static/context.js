// The request context the page sends with select-artwork: a time of day and a device.

export const TIMES = [
  { id: "now", label: "Now" },
  { id: "morning", label: "Morning", hour: 8, minute: 30 },
  { id: "evening", label: "Evening", hour: 20, minute: 30 },
  { id: "late-night", label: "Late night", hour: 23, minute: 30 },
];

export const DEVICES = [
  { id: "web", label: "Web" },
  { id: "tv", label: "TV" },
  { id: "mobile", label: "Mobile" },
  { id: "tablet", label: "Tablet" },
];

const pad = (n) => String(n).padStart(2, "0");

/** "+HH:MM" / "-HH:MM" for a Date, from the browser's own time zone. */
export function utcOffset(date) {
  const minutes = -date.getTimezoneOffset(); // getTimezoneOffset is UTC minus local
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Today at hour:minute local time, as ISO 8601 with the browser's UTC offset. */
export function localIso(hour, minute, base = new Date()) {
  const d = new Date(base.getFullYear(), base.getMonth(), base.getDate(), hour, minute, 0, 0);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(hour)}:${pad(minute)}:00${utcOffset(d)}`;
}

/** The select-artwork `context` for a time bucket id and a device id ("now" omits the time). */
export function requestContext(timeId, deviceId) {
  const context = {};
  const time = TIMES.find((t) => t.id === timeId);
  if (time && time.hour !== undefined) context.time = localIso(time.hour, time.minute);
  if (deviceId) context.device = deviceId;
  return context;
}
