/**
 * An exact decimal number: an integer of units (bigint) and a scale (digits after the point).
 * Event amounts are decimals in major units on the wire; a JS number would round
 * (0.1 + 0.2), so they are read from the JSON text into this type and never through a float.
 */
const DECIMAL = /^([+-])?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

export class Decimal {
  private constructor(
    /** The digits as an integer: 12.34 is 1234n at scale 2. */
    readonly unscaled: bigint,
    /** Digits after the decimal point, as written (1.50 has scale 2). */
    readonly scale: number,
  ) {}

  /** A decimal from its text (a JSON number's source text, "1.50", "-3", "1e-2"). */
  static parse(text: string): Decimal {
    const match = DECIMAL.exec(text.trim());
    if (!match) throw new RangeError(`not a decimal: ${JSON.stringify(text)}`);
    const [, sign = "", whole = "", fraction = "", exponent = "0"] = match;
    let unscaled = BigInt(sign + whole + fraction);
    let scale = fraction.length - Number(exponent);
    if (scale < 0) {
      unscaled *= 10n ** BigInt(-scale);
      scale = 0;
    }
    return new Decimal(unscaled, scale);
  }

  /** A decimal of `minor` units at `scale` digits: fromMinor(1099n, 2) is 10.99. */
  static fromMinor(minor: bigint | number, scale: number): Decimal {
    if (typeof minor === "number" && !Number.isSafeInteger(minor)) {
      throw new RangeError(`not an exact integer: ${minor}`);
    }
    if (!Number.isInteger(scale) || scale < 0) throw new RangeError(`bad scale: ${scale}`);
    return new Decimal(BigInt(minor), scale);
  }

  /** The same value with at least `scale` digits after the point (never rounds). */
  rescale(scale: number): Decimal {
    if (scale < this.scale) {
      const factor = 10n ** BigInt(this.scale - scale);
      if (this.unscaled % factor !== 0n) throw new RangeError(`${this} has more than ${scale} decimals`);
      return new Decimal(this.unscaled / factor, scale);
    }
    return new Decimal(this.unscaled * 10n ** BigInt(scale - this.scale), scale);
  }

  /** The amount in minor units of a currency of `scale` decimals (throws if it would round). */
  toMinor(scale: number): bigint {
    return this.rescale(scale).unscaled;
  }

  /** Numeric equality: 1.5 equals 1.50. */
  equals(other: Decimal): boolean {
    const scale = Math.max(this.scale, other.scale);
    return this.rescale(scale).unscaled === other.rescale(scale).unscaled;
  }

  /** Plain notation, exactly (no exponent): "10.99", "-0.005", "1500". */
  toString(): string {
    const negative = this.unscaled < 0n;
    const digits = (negative ? -this.unscaled : this.unscaled).toString().padStart(this.scale + 1, "0");
    const whole = digits.slice(0, digits.length - this.scale);
    const fraction = digits.slice(digits.length - this.scale);
    return (negative ? "-" : "") + whole + (this.scale > 0 ? `.${fraction}` : "");
  }

  /** JSON.stringify writes a decimal as its exact text (a string); events.ts writes numbers. */
  toJSON(): string {
    return this.toString();
  }
}
