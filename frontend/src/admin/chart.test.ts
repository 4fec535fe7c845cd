import { describe, expect, it } from 'vitest';
import { hourlyBars } from './chart';

describe('hourlyBars', () => {
  it('scales bars to the busiest hour and stands them on the baseline', () => {
    const values = Array(24).fill(0);
    values[9] = 4;
    values[10] = 2;
    values[11] = 1;
    const c = hourlyBars(values, { width: 240, height: 40, gap: 2, nowHour: 10 });
    expect(c.max).toBe(4);
    expect(c.bars).toHaveLength(24);
    const [b9, b10, b11] = [c.bars[9]!, c.bars[10]!, c.bars[11]!];
    expect(b9).toMatchObject({ hour: 9, value: 4, x: 90, w: 8, h: 40, y: 0 });
    expect(b10).toMatchObject({ h: 20, y: 20 });
    expect(b11).toMatchObject({ h: 10, y: 30 });
    for (const b of c.bars) expect(b.y + b.h).toBe(40);
    expect(c.nowX).toBe(104);
  });

  it('keeps a single act visible beside a busy hour', () => {
    const c = hourlyBars([1000, 1], { width: 20, height: 30 });
    expect(c.bars[1]!.h).toBe(1);
  });

  it('draws an empty day flat, without dividing by zero', () => {
    const c = hourlyBars(Array(24).fill(0), { width: 96, height: 20 });
    expect(c.max).toBe(0);
    expect(c.bars.every((b) => b.h === 0 && b.y === 20)).toBe(true);
  });

  it('has no now marker outside the day', () => {
    expect(hourlyBars([1, 2], { width: 10, height: 10, nowHour: null }).nowX).toBeNull();
    expect(hourlyBars([1, 2], { width: 10, height: 10, nowHour: 5 }).nowX).toBeNull();
  });

  it('fits a 23-hour day (summer time) in the same width', () => {
    const c = hourlyBars(Array(23).fill(1), { width: 230, height: 10, gap: 0 });
    expect(c.bars[22]!.x + c.bars[22]!.w).toBeCloseTo(230);
  });
});
