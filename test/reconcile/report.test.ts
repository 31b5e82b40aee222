// Guards the reading of Microsoft's attributed-conversions report: any spelling and order of the header row, quoted
// or not, comma/semicolon/tab, no header at all (Microsoft's documented order), the UI's US times and totals line,
// JSON as rows or inside the Report Service's envelope; each bad cell refused with its line; and exact decimals.
import { describe, expect, it } from 'vitest';
import { normalizeDecimal, sameDecimal, subtractDecimal } from '../../collector/reconcile/decimal.js';
import { parseReport, reportPeriod, reportTime } from '../../collector/reconcile/report.js';

const A = { at: Date.UTC(2026, 10, 16, 9, 0, 41), pixel_id: 59633, order_id: 'A-100', kind: 'click', revenue: '19.9' };

describe('reading the report', () => {
  const cases: { name: string; text: string }[] = [
    { name: 'documented names and order', text: 'datetime,pixel_id,order_id,post_click_or_post_view_conv,post_click_or_post_view_revenue\n2026-11-16 09:00:41,59633,A-100,Post Click,19.90\n' },
    { name: 'title case, another order, all quoted, CRLF', text: '"Post Click or Post View Revenue","Order ID","Pixel ID","Date Time","Post Click/Post View Conv"\r\n"19.90","A-100","59633","2026-11-16 09:00:41","Post Click"\r\n' },
    { name: 'semicolons, a BOM, US time with PM/AM, a currency sign', text: '\uFEFFDatetime;Conversion Pixel ID;Order;Type;Revenue\n11/16/2026 9:00:41 AM;59633;A-100;post click;$19.90\n' },
    { name: 'tabs and ISO times with T and Z', text: 'datetime\tpixel_id\torder_id\tpost_click_or_post_view_conv\trevenue\n2026-11-16T09:00:41Z\t59633\tA-100\tPost Click\t19.9\n' },
    { name: 'no header: the documented column order', text: '2026-11-16 09:00:41,59633,Purchase,A-100,,Post Click,2026-11-16 06:58:02,1,2,LI,3,C,4,CR,19.90\n' },
    { name: 'the UI totals line is skipped, blank lines too', text: 'Datetime,Pixel ID,Order ID,Post Click/Post View Conv,Post Click/Post View Revenue\n2026-11-16 09:00:41,59633,A-100,Post Click,19.90\n\n,Totals,,,3\n' },
    { name: 'JSON rows', text: JSON.stringify([{ datetime: '2026-11-16 09:00:41', pixel_id: 59633, order_id: 'A-100', post_click_or_post_view_conv: 'Post Click', post_click_or_post_view_revenue: 19.9 }]) },
    { name: 'JSON columns and rows', text: JSON.stringify({ columns: ['datetime', 'pixel_id', 'order_id', 'post_click_or_post_view_conv', 'post_click_or_post_view_revenue'], data: [['2026-11-16 09:00:41', 59633, 'A-100', 'Post Click', '19.90']] }) },
    { name: 'JSON envelope with the CSV as a string', text: JSON.stringify({ response: { status: 'OK', report: { data: 'datetime,pixel_id,order_id,post_click_or_post_view_conv,post_click_or_post_view_revenue\n2026-11-16 09:00:41,59633,A-100,Post Click,19.90\n' } } }) },
  ];
  for (const c of cases) {
    it(`reads ${c.name}`, () => {
      const rows = parseReport(c.text);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject(A);
    });
  }

  it('keeps quotes, commas and line breaks inside quoted cells', () => {
    const rows = parseReport('datetime,pixel_id,order_id,creative_name\n2026-11-16 09:00:41,59633,A-100,"Banner, ""blue""\nsecond line"\n');
    expect(rows[0].creative_name).toBe('Banner, "blue"\nsecond line');
    expect(rows[0].revenue).toBeNull(); // no revenue column: nothing to compare
  });

  it('reads thousands separators and a currency sign in the revenue', () => {
    const [row] = parseReport('Datetime,Pixel ID,Post Click/Post View Revenue\n2026-11-16 09:00:41,59633,"$1,019.90"\n');
    expect(row.revenue).toBe('1019.9');
  });

  it('reads an empty revenue cell as 0 and an empty order id as none', () => {
    const [row] = parseReport('datetime,pixel_id,order_id,post_click_or_post_view_revenue\n2026-11-16 09:00:41,59633,,\n');
    expect(row).toMatchObject({ order_id: null, revenue: '0' });
  });

  const refusals: [string, string, RegExp][] = [
    ['a bad time', 'datetime,pixel_id\nyesterday,59633\n', /^line 2: datetime "yesterday" is not a UTC time/],
    ['an impossible date', 'datetime,pixel_id\n2026-02-30 10:00:00,59633\n', /^line 2: datetime/],
    ['a bad pixel id', 'datetime,pixel_id\n2026-11-16 09:00:00,purchase\n', /^line 2: pixel_id "purchase" is not a pixel id/],
    ['a bad conversion type', 'datetime,pixel_id,post_click_or_post_view_conv\n2026-11-16 09:00:00,1,sometimes\n', /^line 2: post_click_or_post_view_conv/],
    ['a bad revenue', 'datetime,pixel_id,revenue\n2026-11-16 09:00:00,1,12abc\n', /^line 2: post_click_or_post_view_revenue "12abc"/],
    ['a header without the pixel id', 'datetime,order_id\n2026-11-16 09:00:00,A\n', /no pixel_id column \(found: datetime, order_id\)/],
    ['a quote never closed', 'datetime,pixel_id\n"2026-11-16 09:00:00,1\n', /line 2: a quoted cell is never closed/],
    ['invalid JSON', '{"data": [', /looks like JSON but is not valid JSON/],
    ['a Report Service error', JSON.stringify({ response: { error_id: 'UNAUTH', error: 'You have to be logged in' } }), /Report Service error: You have to be logged in/],
    ['JSON without rows', JSON.stringify({ response: { status: 'OK' } }), /no report rows found/],
  ];
  for (const [name, text, message] of refusals) {
    it(`refuses ${name}`, () => expect(() => parseReport(text)).toThrow(message));
  }

  it('reads the report’s time formats as UTC', () => {
    expect(reportTime('11/18/11 6:00')).toBe(Date.UTC(2011, 10, 18, 6));
    expect(reportTime('11/18/2026 12:05 AM')).toBe(Date.UTC(2026, 10, 18, 0, 5));
    expect(reportTime('11/18/2026 12:05 PM')).toBe(Date.UTC(2026, 10, 18, 12, 5));
    expect(reportTime('2026-11-18 06:00:00 UTC')).toBe(Date.UTC(2026, 10, 18, 6));
    expect(reportTime('2026-11-18 06:00:00+02:00')).toBeUndefined(); // the report is UTC only
  });

  it('spans the whole UTC days of its rows', () => {
    const rows = parseReport('datetime,pixel_id\n2026-11-16 09:00:00,1\n2026-11-17 23:59:59,1\n');
    expect(reportPeriod(rows)).toEqual({ from: Date.UTC(2026, 10, 16), to: Date.UTC(2026, 10, 18) });
    expect(reportPeriod([])).toBeUndefined();
  });
});

describe('exact decimals', () => {
  it('normalises without losing a digit', () => {
    expect(normalizeDecimal('010.500')).toBe('10.5');
    expect(normalizeDecimal('-0.00')).toBe('0');
    expect(normalizeDecimal('999999999999999.999999')).toBe('999999999999999.999999');
    expect(normalizeDecimal('1e3')).toBeUndefined();
  });

  it('subtracts and compares as decimals, where floats would not', () => {
    expect(0.1 + 0.2 === 0.3).toBe(false); // why the comparison is not done in floats
    expect(subtractDecimal('0.3', '0.1')).toBe('0.2');
    expect(subtractDecimal('10.01', '10.10')).toBe('-0.09');
    expect(sameDecimal('19.90', '19.9')).toBe(true);
    expect(sameDecimal('10', '10.000001')).toBe(false);
    expect(sameDecimal('9007199254740993', '9007199254740992')).toBe(false); // past float precision
  });
});
