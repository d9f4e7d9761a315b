/**
 * A checkout through the TypeScript client: create and authorize a payment with an
 * idempotency key, capture it, print the payment id and its final status.
 *
 *     make typescript        # npm ci and tsc of clients/typescript and of this example
 *     export PAYMENTS_GRPC_TARGET=127.0.0.1:9090 PAYMENTS_TOKEN=…   # from `make run`
 *     node examples/typescript/dist/checkout.js [--amount-minor 1099] [--currency EUR] [--order-id …]
 *
 * A rerun with the same --order-id replays the same answers instead of paying twice: the keys
 * are derived from the order.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { PaymentDeclined, PaymentsClient, PaymentsError } from "@payments/client";
import { PaymentMethodType, PaymentStatusSchema } from "@payments/client/gen/payments/v1/payment_pb";

async function checkout(orderId: string, userId: string, amountMinor: bigint, currency: string, methodToken: string): Promise<number> {
  const client = PaymentsClient.fromEnv(); // PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN
  try {
    const created = await client.createPayment(
      {
        orderId,
        userId,
        amountMinor,
        currency,
        paymentMethodType: PaymentMethodType.CREDIT_CARD,
        paymentMethodToken: methodToken,
        authorize: true,
      },
      { requestId: `checkout-${orderId}-create` },
    );
    const paymentId = created.payment?.paymentId ?? "";
    const captured = await client.capturePayment({ paymentId }, { requestId: `checkout-${orderId}-capture` });
    const status = PaymentStatusSchema.values.find((v) => v.number === captured.payment?.status)?.name;
    console.log(`payment_id=${paymentId}`);
    console.log(`status=${status}`);
    return 0;
  } catch (error) {
    if (error instanceof PaymentDeclined) {
      console.error(`declined: ${error.declineCode}`);
      return 2;
    }
    if (error instanceof PaymentsError) {
      console.error(`failed: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    client.close();
  }
}

const { values } = parseArgs({
  options: {
    "order-id": { type: "string", default: randomUUID() },
    "user-id": { type: "string", default: randomUUID() },
    "amount-minor": { type: "string", default: "1099" },
    currency: { type: "string", default: "EUR" },
    // A gateway's token for a payment method (never a card number): the simulator's test card.
    "payment-method-token": { type: "string", default: "pm_card_visa" },
  },
});
// Minor units as a bigint, straight from the text: never a float.
const amountMinor = BigInt(values["amount-minor"]);
process.exitCode = await checkout(values["order-id"], values["user-id"], amountMinor, values.currency, values["payment-method-token"]);
