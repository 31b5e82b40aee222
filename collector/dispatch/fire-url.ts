// The one place the fire URL is built: id first, the optional fields next, `sspdata` last (Microsoft's rule).
// encodeURIComponent on every value, so the router decodes each byte back exactly (a token's trailing `.` stays).

export interface FireFields {
  pixel_id: number | string;
  order_id?: string | null;
  value?: string | null;
  other?: string | null;
  token: string;
}

export function fireUrl(router: string, f: FireFields): string {
  const params: [string, string | number][] = [['id', f.pixel_id]];
  if (f.order_id != null) params.push(['order_id', f.order_id]);
  if (f.value != null) params.push(['value', f.value]);
  if (f.other != null) params.push(['other', f.other]);
  params.push(['sspdata', f.token]);
  return `${router}?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
}
