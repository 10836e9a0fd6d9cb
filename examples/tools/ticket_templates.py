"""Conversation templates for the example Zendesk export (used by make_tickets.py).

Each topic is what real Ledgerly tickets keep repeating: a few ways customers ask, the agent's answer
(consistent with the help center and runbooks), optional clarifying round trips that make customers paste
personal data, and topic-specific internal notes. Placeholders in braces are filled per ticket by
make_tickets.py: {first} {full} {company} {email} {phone} {agent} {inv} {inv2} {amount} {amount2} {card}
{last4} {ip} {ip2} {client} {client_email} {date} {plan}.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Topic:
    key: str
    tags: tuple[str, ...]
    subjects: tuple[str, ...]
    openers: tuple[str, ...]
    # When answers (or internal notes) have as many entries as openers, entry i answers opener i;
    # otherwise any entry fits any opener.
    answers: tuple[str, ...]
    clarify: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    followups: tuple[tuple[str, str], ...] = ()
    internal: tuple[str, ...] = ()
    weight: int = 2
    kind: str = "question"
    priority: tuple[str, ...] = ("normal",)
    open_states: tuple[str, ...] = field(default=("open", "pending"))
    # Openers that the clarifying question fits (indices); empty means all of them.
    clarify_for: tuple[int, ...] = ()
    plans: tuple[str, ...] = ("Starter", "Growth", "Pro", "Enterprise")
    # False when the answer is a "no", a workaround or a wait, so "that worked, thanks!" would ring false.
    fixes: bool = True


THANKS = (
    "That worked, thank you!",
    "Perfect, thanks {agent}.",
    "Got it, all sorted now. Thanks for the quick reply.",
    "Thanks, that's exactly what I needed.",
    "Great, appreciate the help!",
    "Ok done. Thank you so much.",
    "Brilliant, cheers.",
    "Thanks! You can close this.",
)

# Closing replies that fit any outcome, including "no, that isn't possible".
ACKS = (
    "Ok, thanks for letting me know.",
    "Understood, thanks {agent}.",
    "Ok. Not what I hoped, but thanks for explaining.",
    "Thanks for the quick answer.",
)

GREETINGS = ("Hi {first},", "Hello {first},", "Hi {first}, thanks for reaching out.", "Hey {first},")

AGENT_SIGNOFFS = (
    "\n\nBest,\n{agent}\nLedgerly Support",
    "\n\nCheers,\n{agent} | Ledgerly Support",
    "\n\nKind regards,\n{agent}\nLedgerly Customer Support",
    "\n\nLet me know if anything else comes up!\n{agent}",
)

CUSTOMER_SIGNATURES = (
    "\n\n{full}\n{email}\n{phone}",
    "\n\nSent from my iPhone",
    "\n\n{full}\n{company}\n{phone}",
    "\n\nThanks,\n{first}",
    "\n\n-- \n{full} | {company}\nTel: {phone}",
    "\n\n{first}",
    "\n\nRegards,\n{full}\n{company}",
    "",
)

GENERIC_INTERNAL = (
    "Checked the account in Admin console: {plan} plan, no risk flags, last sign-in from {ip2}. "
    "Internal ref CANARY-INTERNAL-TICKET-9B2C, don't paste into the reply.",
    "Customer is on {plan}. Verified identity (last invoice number + last payout amount) before answering.",
    "Took a look with View as (read-only, 6 min). Nothing changed on the account. "
    "Tracking code CANARY-INTERNAL-TICKET-9B2C for the QA sample.",
    "Heads-up for whoever picks this up: customer mentioned cancelling on a previous ticket. "
    "Loop in the CSM if it comes up again.",
    "Macro used and tweaked. Adding to the macro-gaps sheet, we get this one a lot.",
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        key="send_invoice",
        tags=("invoicing", "how-to"),
        subjects=(
            "Sending one invoice to several people",
            "How do I CC my client's accountant on invoices?",
            "invoice email recipients",
        ),
        openers=(
            "Hi, our client wants invoices to go to both {client_email} and their AP team. Can I send one "
            "invoice to more than one email address?",
            "Is there a way to CC someone when I send an invoice? My client {client} asked that their "
            "bookkeeper gets a copy of {inv}.",
        ),
        answers=(
            "Yes! On the review screen (Review and send) you can add up to 10 recipients in total, To and CC "
            "together. If you want this every time, add the second address as a contact under Clients > "
            "{client} > Contacts and tick 'Include on invoices'.",
            "You can send to up to 10 recipients (To + CC) from the review screen when you click Review and "
            "send. For {inv} specifically, open it and click Resend, then add the extra address. You can "
            "also copy the invoice link and share it yourself.",
        ),
        followups=(
            (
                "Can I schedule it to go out on the 1st instead of now?",
                "Yes, on the same screen choose Schedule and pick the date and time. It uses your account's time zone.",
            ),
        ),
        weight=3,
    ),
    Topic(
        key="void_invoice",
        tags=("invoicing", "void"),
        subjects=("Delete an invoice sent by mistake", "Can't delete invoice", "wrong invoice sent to client"),
        openers=(
            "I sent {inv} to the wrong client and there's no delete button. How do I get rid of it?",
            "I need to delete {inv}, it has the wrong amount ({amount}). The delete option is greyed out.",
        ),
        answers=(
            "Only drafts can be deleted. Once an invoice has been sent, its number has been shared, so it can "
            "only be voided: open {inv} and click More > Void invoice. Voiding stops reminders and removes it "
            "from your revenue reports, and the number isn't reused. Then create a new invoice for the "
            "right client.",
            "Sent invoices can't be deleted, but you have two options: if it has no payments you can simply "
            "edit it (Ledgerly keeps the old version in Activity and offers to email the update), or void it "
            "with More > Void invoice and create a new one.",
        ),
        followups=(
            (
                "Will the client get an email saying it was voided?",
                "No, voiding doesn't email the client automatically. If they already saw it, I'd send them a "
                "quick note yourself.",
            ),
        ),
    ),
    Topic(
        key="recurring_setup",
        tags=("recurring", "invoicing", "how-to"),
        subjects=("Monthly retainer invoices", "Set up automatic invoice every month", "recurring invoice question"),
        openers=(
            "I have 6 retainer clients billed {amount} each month. Is there a way for Ledgerly to create and "
            "send these automatically?",
            "How do recurring invoices work? I want {client} to be invoiced on the 1st of every month and "
            "charged automatically.",
        ),
        answers=(
            "Yes, that's what recurring profiles are for: Invoices > Recurring > New profile. Pick the client, "
            "add the lines, choose Monthly and the start date, and choose 'Send automatically'. Invoices are "
            "created at 07:00 in your account's time zone. If you also want the card charged, turn on "
            "Auto-charge; the client has to save a card or bank account and authorise it first (they can do "
            "that from the first invoice or the client portal).",
            "Go to Invoices > Recurring > New profile, choose Monthly, start date the 1st, and 'Send "
            "automatically'. For automatic charging turn on Auto-charge; it charges the saved card or ACH "
            "account on the due date. Note it works with Ledgerly Payments or Stripe, not PayPal.",
        ),
        followups=(
            (
                "What happens for clients whose start day is the 31st?",
                "In shorter months the invoice is created on the last day of that month, then it goes back to "
                "the 31st.",
            ),
            (
                "If I change the price on the profile, will it change invoices already sent?",
                "No, editing a profile only affects invoices created from then on.",
            ),
        ),
        weight=4,
    ),
    Topic(
        key="recurring_limit",
        fixes=False,
        tags=("recurring", "plans", "starter"),
        subjects=("Can't create more recurring profiles", "Recurring profile limit reached"),
        openers=(
            "I'm trying to add a 6th recurring invoice and it says I've reached my limit. What limit?",
            "Error when saving recurring profile: 'Your plan allows 5 active recurring profiles'. Help?",
        ),
        answers=(
            "The Starter plan includes 5 active recurring profiles. Paused and ended profiles don't count, so "
            "you could pause one you don't need, or upgrade to Growth ($39/month), which has unlimited "
            "recurring profiles. Upgrades apply immediately and are prorated.",
        ),
        plans=("Starter",),
        followups=(
            (
                "If I upgrade now will I be charged the full month?",
                "No, you pay the difference for the rest of the current period, prorated to the day.",
            ),
        ),
        priority=("low", "normal"),
    ),
    Topic(
        key="reminders",
        tags=("reminders", "late-fees"),
        subjects=(
            "Automatic reminders for late payers",
            "Late fee on overdue invoices",
            "Reminder emails not sending?",
        ),
        openers=(
            "Half my clients pay late. Can Ledgerly send reminders automatically, and can I add a late fee?",
            "Can I charge 1.5% per month on overdue invoices like {inv}?",
            "My client {client} says they never got a reminder for {inv} which is 10 days overdue.",
        ),
        answers=(
            "Yes to both. Turn on Settings > Reminders > Automatic reminders. The default schedule is 3 days "
            "before the due date, on the due date and 7 days after; you can edit the steps (Starter up to 3, "
            "Growth and above up to 6). Reminders go out at 09:00 your time. Late fees are under Settings > "
            "Reminders > Late fees: a fixed amount or a percentage, once after a grace period or every 30 "
            "days while unpaid.",
            "Yes: Settings > Reminders > Late fees, choose Percentage and enter 1.5, then 'every 30 days' so it "
            "is added each month while the invoice stays unpaid. The fee is added as a 'Late fee' line and "
            "included in the next reminder. Do check local rules, some places cap late fees.",
            "Reminders only go out when automatic reminders are on (Settings > Reminders) and the invoice has "
            "a due date. I checked {inv}: reminders were turned off on that invoice (More > Turn off "
            "reminders). Turn them back on and the next step in your schedule will go out at 09:00.",
        ),
        followups=(
            (
                "Do reminders stop once they pay part of it?",
                "They continue for the remaining amount. They stop when it's paid in full or voided.",
            ),
        ),
        weight=3,
    ),
    Topic(
        key="refund_partial",
        tags=("refunds", "payments"),
        subjects=("Refund part of a payment", "Client paid twice - refund one payment"),
        openers=(
            "My client paid {inv} ({amount}) but one item was cancelled. How do I refund just {amount2}?",
            "Client paid twice for {inv} by card, once {amount} and again the same amount. I need to refund "
            "one of them.",
        ),
        answers=(
            "Go to Payments, open the payment and click Refund. Enter {amount2} instead of the full amount, "
            "pick a reason and confirm. You can do several partial refunds as long as the total doesn't go "
            "over the original payment. The invoice will show 'Partially refunded'. One thing to know: the "
            "original processing fee isn't returned on refunds.",
            "Open Payments, find the second payment and click Refund (full amount, reason 'Duplicate'). Card "
            "refunds take 5-10 business days to show on the client's statement. Processing fees on the "
            "original payment aren't returned, sorry about that.",
        ),
        clarify=("Happy to help. Which payment method did the client use, card or ACH?",),
        clarify_for=(0,),
        details=(
            "It was a card, Visa ending {last4}. Client is {client_email} if that helps.",
            "Card. The client sent me a screenshot, card number {card}, paid on {date}.",
        ),
        followups=(
            (
                "Can I cancel the refund if I typed the wrong amount?",
                "Unfortunately a refund can't be cancelled once submitted. If the amount was too high, you'd "
                "need to invoice the difference again.",
            ),
        ),
        internal=(
            "Customer asked for the card fee back too. Offered $20 goodwill credit (RF-04), within T1 "
            "limit. CANARY-INTERNAL-TICKET-9B2C",
            "Checked the payment: card, not disputed, within the 180-day refund window.",
        ),
        weight=5,
    ),
    Topic(
        key="refund_timing",
        tags=("refunds", "payments"),
        subjects=("Client hasn't received refund", "Refund not showing on card", "Where is the refund?"),
        openers=(
            "I refunded {amount} to {client} on {date} and they say it's still not on their card. Can you check?",
            "Refund status says Pending for days. Client is angry. Payment was for {inv}.",
        ),
        answers=(
            "Card refunds take 5-10 business days to appear, depending on the client's bank; ACH refunds 3-5 "
            "business days. The refund on {inv} shows Succeeded on our side, so the money has left. If it "
            "isn't there after 10 business days, the client's bank can trace it with the reference on the "
            "refund page.",
            "I can see the refund moved from Pending to Succeeded today, so it's with the client's bank now. "
            "Banks usually post it within 5-10 business days for cards.",
        ),
        followups=(
            (
                "Status now says Failed?!",
                "That happens when the card was closed. The money goes back to your Ledgerly balance, so you'd "
                "refund the client another way, e.g. bank transfer, and record it on the invoice.",
            ),
        ),
        weight=3,
    ),
    Topic(
        key="refund_window",
        fixes=False,
        tags=("refunds", "payments"),
        subjects=("Refund button missing", "can't refund old payment"),
        openers=(
            "A client paid {inv} last year by card and now needs a refund, but there's no Refund button.",
            "Why can't I refund an ACH payment from 4 months ago?",
        ),
        answers=(
            "Card payments can be refunded for 180 days and ACH payments for 90 days after the payment. After "
            "that the processor doesn't allow it. Refund the client another way (bank transfer) and use "
            "Invoice > More > Record refund so your reports stay right.",
        ),
        clarify=("Could you tell me the role of the user trying to refund? Staff users don't see the button.",),
        details=("It's me, I'm the owner. Logged in as {email}.",),
    ),
    Topic(
        key="card_declined",
        tags=("failed-payment", "dunning", "payments"),
        subjects=("Client's card keeps getting declined", "Auto-charge failed", "Payment failed do_not_honor"),
        openers=(
            "My client's auto-payment for {inv} failed. Their card is {card}, exp 09/27, it should be fine. "
            "Can you run it again?",
            "Auto-charge on {client}'s invoice failed with 'insufficient_funds'. Will Ledgerly try again?",
            "Getting do_not_honor on a client payment of {amount} (their card is {card}). What does that mean?",
        ),
        answers=(
            "Please don't send full card numbers by email, I've asked the team to redact it from this ticket. "
            "After a failed auto-charge we retry automatically 3 more times: 3, 7 and 14 days after the first "
            "failure, and the client gets an email each time with a link to update their card. "
            "'insufficient_funds' and 'do_not_honor' are retried; 'expired_card' or 'lost_card' aren't.",
            "Yes. For insufficient_funds Ledgerly retries automatically 3 days, 7 days and 14 days after the "
            "first failure, and {client} gets an email after each failure with a link to update the payment "
            "method. If they update it, the next retry uses the new one immediately.",
            "Ledgerly retries 3 days, 7 days and 14 days after the first failure. do_not_honor is a "
            "generic decline from the client's bank, so the best fix is for the client to call their bank or "
            "use another card via the link in the failure email. If they update the card, the next retry uses "
            "it straight away.",
        ),
        followups=(
            (
                "And after the last retry fails?",
                "By default the recurring profile is paused and the invoice stays Overdue with reminders. You can "
                "change that under Settings > Payments > Failed payments.",
            ),
        ),
        internal=(
            "Customer pasted the client's full PAN in the ticket. Redacted after replying, per "
            "verification policy. CANARY-INTERNAL-TICKET-9B2C",
            "Decline was insufficient_funds, day-3 retry scheduled. Nothing for us to do.",
            "do_not_honor on a {amount} charge. Merchant has no risk flags.",
        ),
        weight=5,
        kind="problem",
        priority=("normal", "high"),
    ),
    Topic(
        key="ach_processing",
        tags=("ach", "payments"),
        subjects=("ACH payment still processing", "Invoice stuck in Payment processing"),
        openers=(
            "{client} paid {inv} by bank transfer (ACH) on {date} and it still says Payment processing. "
            "Is something wrong?",
            "How long do ACH payments take? Client paid {amount} on Monday.",
        ),
        answers=(
            "Nothing's wrong: ACH payments take 3-5 business days to confirm. Reminders are paused while it "
            "says Payment processing. Once confirmed the invoice turns Paid, and the funds are available for "
            "payout 4 business days after the payment.",
        ),
        followups=(("And the fee for ACH?", "0.8% capped at $5.00 per payment, so for {amount} it's the $5 cap."),),
        weight=3,
    ),
    Topic(
        key="ach_return",
        fixes=False,
        tags=("ach", "failed-payment"),
        subjects=("ACH payment returned R01 - why a $4 fee?", "ACH payment reversed with R10"),
        openers=(
            "Got an email that {client}'s ACH payment was returned with R01 and I was charged $4. Why?",
            "An ACH payment for {inv} came back as R10. Client says they didn't authorise it but they did! "
            "Can I dispute?",
        ),
        answers=(
            "R01 means insufficient funds in the client's account. A returned ACH payment costs $4.00. For "
            "R01 we retry once automatically, 3 business days later; if that fails the client is asked for a "
            "new payment method.",
            "I'm sorry, R10 (customer says the debit was not authorised) can't be contested; the bank decides "
            "on the client's word. Your best option is to contact the client directly and ask them to pay "
            "another way, e.g. card via the invoice link.",
        ),
    ),
    Topic(
        key="payout_first",
        tags=("payouts", "new-account"),
        subjects=("When will I get paid?", "First payout hasn't arrived", "No payout yet"),
        openers=(
            "I got my first payment ({amount}) 3 days ago and nothing has arrived in my bank. When do I get paid?",
            "New to Ledgerly. Payment received on {date} but payouts page shows Scheduled. Is this normal?",
        ),
        answers=(
            "Yes, that's normal for a new account: the first payout is sent 7 days after your first successful "
            "payment. After that, card payments are available 2 business days after the payment and ACH 4 "
            "business days, and payouts go out daily by default. It shows on your statement as LEDGERLY "
            "PAYOUT.",
        ),
        followups=(
            (
                "Can I switch to weekly payouts?",
                "Sure: Settings > Payments > Payouts, choose Weekly and the weekday (or Monthly, any date 1-28).",
            ),
        ),
        internal=("New account, {amount} volume in first week, below the $5k risk threshold. No review needed.",),
        weight=4,
    ),
    Topic(
        key="payout_paused",
        fixes=False,
        tags=("payouts", "bank-account"),
        subjects=("Payouts paused after bank change", "Payout failed - old bank account closed"),
        openers=(
            "I updated our bank account yesterday and now payouts say paused. We need the money for payroll.",
            "Payout of {amount} failed. We closed our old bank account last week.",
        ),
        answers=(
            "For security, payouts pause for 72 hours whenever the payout bank account changes, and the Owner "
            "gets an email. They resume automatically after that, including everything that built up. I can't "
            "shorten the pause, sorry.",
            "A failed payout goes back to your balance. Add the new account under Settings > Payments > "
            "Payouts > Bank account (Owner only); after the 72-hour security pause the funds go out with the "
            "next payout.",
        ),
        clarify=(
            "Before I look at payout details I need to verify you. Can you confirm the last invoice "
            "number you sent and the amount of your last payout?",
        ),
        details=("Last invoice was {inv2}, last payout was {amount2}. You can also call me on {phone}.",),
        internal=(
            "Verified (invoice no. + payout amount). Bank change made by Owner from usual IP {ip}, no ATO signals.",
            "Customer asked to bypass the 72h hold. Declined per policy. CANARY-INTERNAL-TICKET-9B2C",
        ),
        weight=3,
        priority=("high", "normal"),
    ),
    Topic(
        key="instant_payout",
        fixes=False,
        tags=("payouts", "instant-payouts", "plans"),
        subjects=("Faster payouts?", "Instant payout option"),
        openers=(
            "Is there any way to get my money the same day? Waiting 2 days is hard for a small business.",
            "I don't see the Instant payout button. We're on {plan}.",
        ),
        answers=(
            "Instant payouts are on Pro and Enterprise (US accounts): funds go to an eligible debit card in "
            "about 30 minutes, any day. The fee is 1.5% of the payout, minimum $0.50, up to $10,000 per "
            "instant payout. On other plans payouts follow the standard schedule.",
        ),
        plans=("Starter", "Growth"),
    ),
    Topic(
        key="stripe_connect",
        tags=("stripe", "integrations", "gateways"),
        subjects=("Stripe won't connect: charges_enabled is false", "Use our own Stripe account with Ledgerly?"),
        openers=(
            "Trying to connect Stripe and get 'Your Stripe account can't accept payments yet (charges_enabled "
            "is false)'.",
            "We already use Stripe. Can we use it with Ledgerly, and do you take a fee on top?",
        ),
        answers=(
            "That message comes from Stripe: the account hasn't finished activation. In your Stripe dashboard "
            "complete the activation (business details, bank account); once Stripe shows Charges enabled, go "
            "to Settings > Integrations > Payment gateways > Stripe and connect again.",
            "Yes: Settings > Integrations > Payment gateways > Stripe > Connect with Stripe. Stripe charges "
            "its own fees. Ledgerly adds a 0.5% application fee only on Starter; no Ledgerly fee on Growth and "
            "above. Note only one card gateway can be active, Ledgerly Payments or Stripe (PayPal can sit next "
            "to either).",
        ),
        followups=(
            (
                "Will my clients' saved cards move over to Stripe?",
                "No, saved cards can't be migrated between Ledgerly Payments and Stripe, clients would need to "
                "save their card again.",
            ),
        ),
        weight=3,
    ),
    Topic(
        key="paypal",
        tags=("paypal", "integrations", "gateways"),
        subjects=("PayPal button not showing", "PayPal for recurring invoices?", "Can't connect PayPal"),
        openers=(
            "PayPal is connected but my client in Argentina doesn't see the PayPal button on {inv}.",
            "Can clients pay my monthly invoices automatically with PayPal?",
            "PayPal says my account can't be connected.",
        ),
        answers=(
            "The PayPal button is hidden when the invoice currency isn't one of the 25 currencies PayPal "
            "supports, which is the case for ARS. Switch the invoice to USD or offer card/bank transfer.",
            "PayPal can't be used for auto-charge on recurring invoices; clients paying with PayPal click Pay "
            "now on each invoice. For automatic charges they'd need to save a card or bank account.",
            "Ledgerly needs a PayPal Business account; personal accounts can't be connected. Upgrade it in "
            "PayPal (free) and connect again from Settings > Integrations > Payment gateways > PayPal.",
        ),
    ),
    Topic(
        key="multicurrency_rate",
        tags=("multi-currency", "exchange-rates"),
        subjects=("Exchange rate on EUR invoice doesn't match my bank", "Use my own exchange rate?"),
        openers=(
            "The USD value you show for my EUR invoice {inv} doesn't match my bank's rate. Where does the rate "
            "come from?",
            "Can I use my own exchange rate for a GBP invoice?",
        ),
        answers=(
            "We use the European Central Bank reference rates, updated once per business day around 16:00 "
            "CET. The rate is locked when the invoice is sent, so your reports don't move. If you prefer your "
            "bank's rate, click Exchange rate on the invoice before sending and enter a custom rate (up to 6 "
            "decimals). Differences at payment time are recorded as exchange gain/loss.",
        ),
        followups=(("Where do I see the gains and losses?", "Reports > Exchange gains and losses."),),
        weight=3,
    ),
    Topic(
        key="base_currency",
        fixes=False,
        tags=("multi-currency", "settings"),
        subjects=("Change base currency", "Set up with wrong currency"),
        openers=("I set up the account in USD by mistake, we're a Canadian company. How do I change it to CAD?",),
        answers=(
            "The base currency can only be changed until the first invoice is sent. I can see you've already "
            "sent {inv}, so it's locked. Options: keep USD as base and invoice in CAD (multi-currency on "
            "Growth and above), or create a new business under Switch account > Add business with CAD as "
            "base.",
            "Since you haven't sent an invoice yet you can still change it under Settings > Company > Base "
            "currency. Once you send your first invoice it locks.",
        ),
        priority=("low", "normal"),
    ),
    Topic(
        key="vat_reverse_charge",
        tags=("tax", "vat"),
        subjects=("Reverse charge VAT for EU client", "VAT numbers on invoices"),
        openers=(
            "We're in Ireland, invoicing a German company. How do I do reverse charge in Ledgerly?",
            "How do I show my VAT number and my client's on the invoice?",
        ),
        answers=(
            "Add the client's VAT number under Clients > (client) > Tax number and tick Reverse charge on the "
            "client. Their invoices will then use 0% VAT and print 'Reverse charge: VAT to be accounted for by "
            "the recipient.' We also check the number against VIES when you save (advisory only).",
            "Your VAT number goes under Settings > Company > Tax ID and prints on every invoice; the client's "
            "under Clients > (client) > Tax number.",
        ),
        followups=(
            (
                "And a report of VAT collected for my return?",
                "Reports > Tax summary, cash or accrual basis, export CSV or PDF. We don't file returns for you "
                "though.",
            ),
        ),
        weight=3,
    ),
    Topic(
        key="compound_tax_qbo",
        fixes=False,
        tags=("tax", "quickbooks", "sync"),
        subjects=("Duplicate tax line in QuickBooks", "GST/QST doubled in QBO"),
        openers=(
            "Invoices with GST + QST (compound) show the tax twice when they sync to QuickBooks Online. {inv} "
            "for example.",
        ),
        answers=(
            "Thanks for the example, I could reproduce it. It's a known issue our engineers are working on, "
            "affecting compound taxes syncing to QuickBooks Online. Workaround for now: sync with compound "
            "turned off on the second tax and adjust the tax in QuickBooks, and let me know, I can trigger a "
            "fresh sync of the invoice afterwards.",
        ),
        internal=(
            "This is BUG-2231. Linked the Jira. Will do Reset sync cursor once customer fixes QBO.",
            "BUG-2231 again, 4th this month. CANARY-INTERNAL-TICKET-9B2C",
        ),
        kind="problem",
    ),
    Topic(
        key="client_portal",
        tags=("client-portal",),
        subjects=("Client's portal login link expired", "Custom domain for client portal"),
        openers=(
            "My client says the login link to the portal says expired. They clicked it the next morning.",
            "Can the client portal be on billing.{domain} instead of your domain?",
        ),
        answers=(
            "Portal sign-in links expire after 30 minutes and work once. Ask the client to request a new link "
            "from the portal sign-in page and use it straight away. Once signed in, the session lasts 7 days "
            "on that browser.",
            "Yes, on Pro and Enterprise: Settings > Client portal > Custom domain, then add a CNAME from "
            "billing.{domain} to portal.ledgerly.example and click Verify. SSL is issued automatically, "
            "usually within an hour.",
        ),
        clarify=("Which email address is the client using? It has to be one of the contacts on the client.",),
        clarify_for=(0,),
        details=("They use {client_email}. I also added accounts@{domain} as a contact yesterday.",),
        weight=3,
    ),
    Topic(
        key="expenses_email",
        tags=("expenses", "receipts"),
        subjects=("Emailed receipts not showing up", "Receipt scanning"),
        openers=(
            "I forward receipts to my receipts+ address but nothing appears in Expenses.",
            "Does Ledgerly read the amount from the receipt automatically?",
        ),
        answers=(
            "The receipts address only accepts emails sent from the addresses of users on your team. You're "
            "forwarding from {email}, which isn't a Ledgerly user on the account. Add it as a user or forward "
            "from your login address.",
            "Yes, we scan date, total, currency and vendor, usually within a minute, and save the expense as a "
            "draft for you to check. On Starter it's up to 50 scans a month.",
        ),
    ),
    Topic(
        key="qbo_duplicate",
        tags=("quickbooks", "sync", "integrations"),
        subjects=("QBO-6140 Duplicate Document Number", "QuickBooks sync stopped - QBO-401"),
        openers=(
            "QuickBooks sync shows 12 failed invoices with 'QBO-6140 Duplicate Document Number'.",
            "Invoices stopped syncing to QuickBooks, error QBO-401 Authorization expired.",
        ),
        answers=(
            "QBO-6140 means QuickBooks already has an invoice with that number (often from before you used "
            "Ledgerly). Either turn off Custom transaction numbers in QuickBooks, or change your Ledgerly "
            "prefix under Settings > Invoices > Numbering. Then click Retry failed.",
            "QBO-401 means the connection expired; Intuit revokes it after 100 days without use or when "
            "someone disconnects the app. Click Reconnect on Settings > Integrations > QuickBooks Online and "
            "then Retry failed.",
        ),
        followups=(
            (
                "Does it sync back changes I make in QuickBooks?",
                "No, sync is one-way from Ledgerly to QuickBooks; edits in QBO can be overwritten.",
            ),
            ("How often does it sync?", "Every 60 minutes, or immediately with Sync now."),
        ),
        internal=(
            "Checked the sync log in Admin console; failures cleared after the customer's fix, no Reset "
            "sync cursor needed.",
        ),
        weight=4,
    ),
    Topic(
        key="qbo_desktop",
        fixes=False,
        tags=("quickbooks", "integrations"),
        subjects=("QuickBooks Desktop support?",),
        openers=("Our accountant uses QuickBooks Desktop 2024. Can Ledgerly sync to it?",),
        answers=(
            "I'm sorry, only QuickBooks Online is supported; QuickBooks Desktop can't be connected. Many "
            "customers export CSVs (Invoices > Export CSV) for their accountant instead.",
        ),
        priority=("low",),
    ),
    Topic(
        key="xero_sync",
        tags=("xero", "sync", "integrations"),
        subjects=("Xero sync error XERO-409", "Xero account code invalid", "Large invoice not appearing in Xero"),
        openers=(
            "Xero sync failed for {inv}: 'XERO-409 Contact archived'.",
            "Xero says account code invalid (XERO-400) since our accountant cleaned up the chart of accounts.",
            "Big invoice {inv} with ~180 lines won't sync to Xero, it just times out.",
        ),
        answers=(
            "The matching contact for {client} is archived in Xero. Restore it in Xero, then click Retry "
            "failed on Settings > Integrations > Xero.",
            "One of your mapped accounts was archived or deleted in Xero. Update it under Xero > Account "
            "mapping (default sales account is 200) and retry the failed documents.",
            "Thanks, this is a known issue with very long invoices syncing to Xero. For now please split it "
            "into two invoices of at most 150 lines each; sorry for the hassle.",
        ),
        internal=(
            "Contact was archived by their accountant during a cleanup in Xero.",
            "Account 200 archived in their Xero org; mapping updated by customer.",
            "BUG-2360 (Xero >150 lines). Linked.",
        ),
        weight=3,
    ),
    Topic(
        key="api_rate_limit",
        tags=("api", "rate-limits", "developers"),
        subjects=("429 Too Many Requests from API", "Higher API rate limit for an import"),
        openers=(
            "Our sync script gets HTTP 429 after a while. What are the limits?",
            "Can we get our API rate limit raised? We're importing 40k invoices.",
        ),
        answers=(
            "Each API key can make 120 requests per minute (600 per account across keys). Over that you get "
            "429 with a Retry-After header; wait that long, since rejected requests count too. Use limit=100 "
            "on list calls and updated_since filters to cut the number of requests, and webhooks instead of "
            "polling.",
            "Higher per-key limits (up to 600/min) are available on Enterprise through the account manager. "
            "On {plan} the limit is 120 requests per minute per key. For a one-off import, pace at ~2 "
            "requests/second and use Idempotency-Key so retries can't create duplicates.",
        ),
        clarify=("Could you send me the Ledgerly-Request-Id of one failing request so I can look it up?",),
        details=("Sure: req_8Qw2Zx7LpA. It comes from our server at {ip}.",),
        clarify_for=(0,),
        plans=("Growth", "Pro"),
        weight=3,
        kind="problem",
    ),
    Topic(
        key="api_auth",
        tags=("api", "authentication", "developers"),
        subjects=("API returns 401 invalid_api_key", "403 plan_not_eligible", "Lost API key"),
        openers=(
            "Every call to https://api.ledgerly.example/v2/invoices returns 401 invalid_api_key. The key "
            "starts with lk_test_.",
            "Getting 403 plan_not_eligible from the API.",
            "I lost my API key, where can I see it again?",
        ),
        answers=(
            "Check the header format: Authorization: Bearer <key>. Also note lk_test_ keys only see test-mode "
            "data; if you're calling with a key that was revoked or created in another account you'll get "
            "401 as well.",
            "The API is included on Growth, Pro and Enterprise; your account is on Starter, so calls return "
            "403 plan_not_eligible. After upgrading the same key works.",
            "Keys are shown only once when created. Revoke the lost one under Settings > Developers > API keys "
            "and create a new one (Owner or Admin only).",
        ),
    ),
    Topic(
        key="webhook_signature",
        tags=("webhooks", "developers"),
        subjects=("Webhook signature doesn't match", "Ledgerly-Signature verification failing"),
        openers=("Our HMAC check of Ledgerly-Signature fails on every webhook. We use the whsec_ secret and SHA256.",),
        answers=(
            "The usual cause is computing the HMAC over the parsed and re-serialised JSON. Sign the raw body "
            "bytes exactly as received: HMAC-SHA256 of '{{t}}.{{raw_body}}' with the endpoint's secret, hex, "
            "compared in constant time to v1. Also reject if t is more than 5 minutes off your clock, so check "
            "your server's time.",
        ),
        followups=(
            (
                "We rolled the secret yesterday, could that be it?",
                "During the 24 hours after a roll both signatures are sent as two v1= entries; accept either.",
            ),
        ),
        weight=2,
    ),
    Topic(
        key="webhook_disabled",
        fixes=False,
        tags=("webhooks", "developers"),
        subjects=("Webhook endpoint disabled, missed events", "Duplicate invoice.paid webhooks"),
        openers=(
            "Our webhook endpoint was disabled and we missed payments over the weekend. How do we get the events?",
            "We're getting invoice.paid twice for the same invoice. Bug?",
        ),
        answers=(
            "Deliveries are retried 8 times over about 3.5 days; if every delivery fails for 5 days in a row "
            "the endpoint is disabled and Admins are emailed. Re-enable it under Settings > Developers > "
            "Webhooks, then use Resend for events from the last 30 days.",
            "Occasional duplicates can happen; the two deliveries carry the same event id, so store ids and "
            "skip ones you've processed. We're also looking at why this case produces two deliveries.",
        ),
        internal=(
            "Duplicate invoice.paid on partial-then-full payment = BUG-2401. Replayed events via "
            "Admin console for the disabled endpoint window.",
        ),
        kind="problem",
    ),
    Topic(
        key="sso",
        fixes=False,
        tags=("sso", "saml", "enterprise"),
        subjects=("Can we use Okta SSO?", "SAML audience mismatch"),
        openers=(
            "We'd like everyone to log in with Okta. Is that possible on our {plan} plan?",
            "We're moving to Enterprise next month and testing SAML on the account already. Test sign-in fails "
            "with 'Audience mismatch'.",
        ),
        answers=(
            "SAML SSO (with Okta, Entra ID, Google Workspace, OneLogin, JumpCloud) and SCIM are part of the "
            "Enterprise plan. I've passed your details to sales@ledgerly.example so they can send a quote.",
            "Audience mismatch means the Entity ID configured in your IdP isn't the one shown in Ledgerly "
            "under Settings > Security > Single sign-on. It's account specific: "
            "https://app.ledgerly.example/sso/saml/metadata/<your account id>.",
        ),
        plans=("Growth", "Pro"),
        followups=(
            (
                "If Okta is down can anybody still log in?",
                "The account Owner always keeps password + 2FA sign-in as a break-glass route.",
            ),
        ),
    ),
    Topic(
        key="roles",
        tags=("roles", "permissions", "team"),
        subjects=("Staff user can't refund", "Read-only access for bookkeeper"),
        openers=(
            "My assistant is set up as Staff and can't see the Refund button. How do I let her refund?",
            "Our external bookkeeper needs to see everything but change nothing. Which role?",
        ),
        answers=(
            "Refunds are limited to Owner, Admin and Accountant. Change her role under Settings > Team > "
            "(user) > Change role to Accountant: she'll get refunds, credit notes and reports without access to "
            "settings and users.",
            "The Viewer role is read-only, and Viewers don't count towards your user limit. Invite them under "
            "Settings > Team > Invite user; the invitation is valid for 7 days.",
        ),
        weight=3,
    ),
    Topic(
        key="twofa_lost",
        fixes=False,
        tags=("2fa", "account-access", "security"),
        subjects=("Lost phone, can't log in", "2FA reset", "New phone authenticator codes"),
        openers=(
            "I got a new phone and my authenticator codes are gone. I'm the owner of the account. Please "
            "help, I need to send invoices today.",
            "Lost my phone with Google Authenticator. My login is {email}.",
        ),
        answers=(
            "If you saved your backup codes, sign in with one and set up 2FA on the new phone. If not, and "
            "someone else on the account is an Admin, they can reset it under Settings > Team > (you) > Reset "
            "2FA. As the Owner without backup codes, we need to verify your identity before removing 2FA, "
            "which takes up to 3 business days. I'll send the verification steps separately.",
        ),
        clarify=("I'm sorry about that. Is there another Owner or Admin on the account who could reset it?",),
        details=("No, it's just me. My number is {phone} if a call is faster. I'm logging in from {ip}.",),
        internal=(
            "Owner 2FA reset: verified via invoice number + payout last 4 + callback to number on file. "
            "T2 reset done, 24h cooling-off started. CANARY-INTERNAL-TICKET-9B2C",
            "Requester email doesn't match any user on the account. Sent verification-failed macro.",
        ),
        weight=4,
        priority=("high", "normal"),
    ),
    Topic(
        key="lockout",
        tags=("account-access", "login"),
        subjects=("Account temporarily locked", "Password reset link expired"),
        openers=(
            "It says my account is temporarily locked. I don't think I typed the password wrong that many "
            "times. Login {email}.",
            "Password reset link says expired. I clicked it maybe 2 hours after.",
        ),
        answers=(
            "After 10 failed attempts in a row the account locks for 30 minutes; resetting the password "
            "doesn't unlock it sooner. I see failed attempts from {ip2}; if that isn't you, reset your password "
            "after the lock ends (the reset email goes to {email}) and turn on 2FA.",
            "Reset links are valid for 1 hour and work once. Request a new one and use it right away. "
            "Passwords need at least 12 characters.",
        ),
        internal=(
            "Failed logins from {ip2} (not customer's usual {ip}). Suggested 2FA. No other ATO signs.",
            "Reset link simply expired (1h). Nothing else on the account.",
        ),
        weight=3,
    ),
    Topic(
        key="data_export",
        tags=("data-export", "account"),
        subjects=("Export all our data", "Export download link expired"),
        openers=(
            "We're switching accounting systems. How can I download all our invoices and clients?",
            "The export download link from last week doesn't work.",
        ),
        answers=(
            "Settings > Account > Export data. Pick what to include (you can include all invoice PDFs) and "
            "click Request export. You'll get an email when the ZIP of CSVs is ready, usually within an hour, "
            "up to 24 hours for big accounts. Owner or Admin only.",
            "Export links are valid for 7 days. Just request a new export (up to 3 per 24 hours).",
        ),
    ),
    Topic(
        key="delete_account",
        fixes=False,
        tags=("account-deletion", "account"),
        subjects=("Please delete my account", "Deleted my account by accident"),
        openers=(
            "I'm closing my business. Please delete my Ledgerly account and all data.",
            "I deleted my account by accident yesterday!! Can it be restored?",
        ),
        answers=(
            "Sorry to see you go. The Owner can delete the account under Settings > Account > Delete account "
            "(export your data first). It's deactivated for 30 days, then permanently deleted; backup copies "
            "expire within a further 35 days. Payment records held by the processor are kept as required by "
            "law.",
            "Yes: for 30 days after deletion the Owner can sign in and click Restore account. Everything will "
            "be as it was, although the subscription was cancelled so you'll need to choose a plan again.",
        ),
        clarify=(
            "I can help. For account changes I need to confirm it's you: what's the number of the last "
            "invoice you sent?",
        ),
        details=("It was {inv2}. Account email is {email}.",),
        priority=("low", "normal"),
    ),
    Topic(
        key="subscription_refund",
        fixes=False,
        tags=("billing", "subscription", "refund-request"),
        subjects=("Refund for annual plan renewal", "Cancelled but still charged"),
        openers=(
            "Our annual {plan} plan renewed on {date} ({annual_charge}). We don't use Ledgerly anymore. Can we "
            "get a refund?",
            "I cancelled but was still charged this month. I want a refund.",
        ),
        answers=(
            "Annual plans cancelled within 30 days of purchase or renewal get a full refund, and you're within "
            "that window, so I've refunded {annual_charge} to the card on file; it takes 5-10 business days to show. "
            "The account is now cancelled.",
            "Monthly plans aren't refunded for partial months, and you keep access until the end of the paid "
            "period. I can see the cancellation was made after the renewal date, which is why this month was "
            "charged.",
        ),
        plans=("Starter", "Growth", "Pro"),
        internal=(
            "Refund {annual_charge} issued under RF-03 (unwanted renewal), inside the 30-day window.",
            "Outside 30-day window. Offered SAVE50-2 first, customer declined. CANARY-INTERNAL-TICKET-9B2C",
        ),
        weight=3,
    ),
    Topic(
        key="duplicate_charge",
        fixes=False,
        tags=("billing", "subscription", "duplicate-charge"),
        subjects=("Charged twice for subscription", "Double charge on my card"),
        openers=("I see two charges of {sub_charge} from LEDGERLY on my card ending {last4} on {date}. Please fix.",),
        answers=(
            "You're right, there was a duplicate charge, our mistake. I've refunded the second charge in full; "
            "card refunds take 5-10 business days to appear. Sorry about that!",
        ),
        internal=("Duplicate subscription charge, refunded under RF-02 (billing error). Linked to billing incident.",),
        kind="incident",
    ),
    Topic(
        key="email_delivery",
        tags=("email-delivery", "invoicing"),
        subjects=("Client didn't receive invoice", "Invoice emails going to spam"),
        openers=(
            "{client} says they never received {inv}. I sent it to {client_email} on {date}.",
            "Invoices to one of our biggest clients always end up in their spam. Can we send from our own domain?",
        ),
        answers=(
            "In Activity, the email to {client_email} shows Bounced (mailbox full), so the address is now "
            "suppressed. If the address is correct, go to Clients > {client} > Contacts > Reactivate email "
            "(once per 24 hours) and resend. Also ask them to allow mail.ledgerly.example.",
            "Yes, on Pro and Enterprise: Settings > Emails > Sending domain. Add include:spf.mail.ledgerly"
            ".example to your SPF record, the two DKIM CNAMEs (ldg1._domainkey and ldg2._domainkey) and "
            "ideally a DMARC record, then Verify (DNS can take up to 48 hours).",
        ),
        clarify=("Could you check the invoice's Activity and tell me the status shown for the email?",),
        details=("It says Bounced. The address is right though, it's their AP inbox.",),
        clarify_for=(0,),
        internal=(
            "Removed {client_email} from suppression in Admin console after customer confirmed "
            "address is correct (bounce was mailbox full, not spam complaint).",
            "Customer is on {plan}; custom sending domain needs Pro or Enterprise.",
        ),
        weight=4,
    ),
    Topic(
        key="chargeback",
        fixes=False,
        tags=("disputes", "chargebacks", "payments"),
        subjects=("Client disputed a payment", "Chargeback fee", "Dispute evidence"),
        openers=("I just got a dispute notice for {amount} on {inv} and a $15 fee. The work was done! What now?",),
        answers=(
            "Sorry you're dealing with this. Go to Payments > Disputes and click Submit evidence within 7 "
            "days: the invoice, the accepted estimate if there was one, proof of the work and emails where "
            "the client acknowledged it. You can submit only once. The bank usually decides in 60-75 days; "
            "if you win, the amount and the $15 fee come back.",
        ),
        internal=("Merchant has 3 disputes in 30 days. Below risk threshold but flagged in #risk-review FYI.",),
        priority=("high", "normal"),
    ),
    Topic(
        key="plans_question",
        fixes=False,
        tags=("plans", "pricing", "pre-sales"),
        subjects=("Growth vs Pro, and nonprofit discount?", "Annual pricing?"),
        openers=(
            "We're 4 people. What's the difference between Growth and Pro, and is there a discount for nonprofits?",
            "Do you have annual pricing?",
        ),
        answers=(
            "Growth ($39/month) includes 3 users, Pro ($79/month) 10 users; extra users are $8/user/month on "
            "both. Pro adds a custom email sending domain, portal on your own domain, no Powered by Ledgerly, "
            "and instant payouts. Registered nonprofits get 25% off Growth and Pro: send us proof of status "
            "and we'll apply it.",
            "Yes, annual billing is 2 months free: Starter $12.50/month, Growth $32.50, Pro $65.83 billed annually.",
        ),
        internal=(
            "Nonprofit letter received and checked, applied NONPROFIT25.",
            "Pre-sales question, forwarded to sales for an annual quote.",
        ),
        priority=("low",),
    ),
    Topic(
        key="payouts_on_hold",
        fixes=False,
        tags=("payouts", "account-review"),
        subjects=("Why are my payouts on hold?", "Payouts paused, no explanation"),
        openers=(
            "My payouts have been on hold for 3 days and nobody tells me why. We invoiced {amount} this week "
            "to new clients.",
        ),
        answers=(
            "We are completing a routine review of your account, which can happen at any time under our "
            "terms. We'll contact you as soon as it's complete or if we need anything.",
        ),
        internal=(
            "Risk review: new account, >$5k before first payout + card-testing pattern. Hold placed "
            "(7 days), posted in #risk-review. Don't share signals. CANARY-INTERNAL-TICKET-9B2C",
        ),
        weight=1,
        kind="incident",
        priority=("high",),
        open_states=("hold", "pending"),
    ),
    Topic(
        key="processor_outage",
        fixes=False,
        tags=("payments", "incident", "inc-processor"),
        subjects=("Clients can't pay - spinner on payment page", "Pay now not working", "Card payments down?"),
        openers=(
            "Three clients told me in the last hour that the Pay now page just spins. Is something down?",
            "Getting processing_error on every card payment this morning.",
        ),
        answers=(
            "Yes, sorry: an issue with our payment partner is affecting some card payments right now. It's on "
            "https://status.ledgerly.example and we'll update there at least every 30 minutes. Invoices and "
            "reminders aren't affected, and automatic retries are paused so your clients won't get failure "
            "emails because of this.",
            "The incident with our payment partner is resolved as of this afternoon. Failed automatic charges "
            "from the incident window were retried; your clients can pay as normal again.",
        ),
        internal=("Part of today's processor incident, tagged inc-processor, outage macro used.",),
        weight=2,
        kind="incident",
        priority=("urgent", "high"),
    ),
    Topic(
        key="update_card",
        tags=("billing", "subscription", "payment-method"),
        subjects=("New card for our subscription", "Change the card you charge"),
        openers=(
            "Our card expired. New card for the Ledgerly subscription: {card}, exp 08/28, CVC 314. Name on "
            "card {full}.",
            "Can you charge our Ledgerly subscription to a different card? The number is {card}, billing zip 94107.",
        ),
        answers=(
            "Thanks, but please never send card numbers by email or chat. We'll redact it from this ticket; "
            "please delete it from your sent mail too. Support can't enter cards for you: the account Owner "
            "can update it under Settings > Billing > Payment method. If a subscription payment has already "
            "failed, we retry 3 times over 10 days, and the account only becomes read-only after the last "
            "attempt fails.",
        ),
        internal=(
            "Customer emailed a full PAN + CVC. Redacted the comment after replying. CANARY-INTERNAL-TICKET-9B2C",
            "PAN in ticket, redacted. Owner updated the card herself the same day.",
        ),
        weight=3,
        priority=("normal", "high"),
    ),
    Topic(
        key="suspicious_login",
        tags=("security", "account-access", "login"),
        subjects=("Sign-in I don't recognise", "Someone is trying to log in to my account"),
        openers=(
            "I got a 'new sign-in' email for a login from {ip2} at 3am. That wasn't me! My usual IP is {ip}.",
            "I see failed login attempts from {ip2} on my account ({email}). Can you block that IP?",
        ),
        answers=(
            "Please reset your password now (the link is valid for 1 hour), then turn on two-factor "
            "authentication under Settings > Profile > Security, and remove any trusted device you don't "
            "recognise under Settings > Profile > Security > Trusted devices. If you're the Owner, you can "
            "also require 2FA for the whole team under Settings > Team > Security.",
            "We can't block individual IP addresses, but the account locks for 30 minutes after 10 failed "
            "attempts in a row, and with two-factor authentication a password alone isn't enough to get in. "
            "I'd strongly recommend turning 2FA on under Settings > Profile > Security.",
        ),
        internal=(
            "Sign-in from {ip2} succeeded with the right password, no 2FA. Sessions revoked, password reset "
            "forced. Possible ATO, posted in #risk-review. CANARY-INTERNAL-TICKET-9B2C",
            "Only failed attempts from {ip2}, no successful sign-in. No further action.",
        ),
        fixes=False,
        weight=2,
        kind="incident",
        priority=("high", "urgent"),
    ),
    Topic(
        key="import_clients",
        tags=("import", "clients", "onboarding"),
        subjects=("CSV import errors", "Import clients from spreadsheet"),
        openers=(
            "Import failed for a bunch of rows with 'unknown country'. We wrote England / USA etc.",
            "Can I import 8,000 clients at once?",
        ),
        answers=(
            "The country column needs two-letter ISO codes: GB, US, DE and so on. Download the failed rows "
            "from the import summary, fix the column and upload that file.",
            "One file can have up to 5,000 rows (5 MB), so split it into two files. Duplicates are detected by "
            "email; choose Skip or Update existing.",
        ),
    ),
    Topic(
        key="estimates",
        tags=("estimates", "invoicing"),
        subjects=("Convert estimate to invoice with deposit", "Client can't accept estimate"),
        openers=(
            "Client accepted the estimate for {amount}. I want to invoice 50% now and the rest later.",
            "Client says the Accept button on my estimate doesn't work.",
        ),
        answers=(
            "Open the accepted estimate > Convert to invoice > Deposit, and enter 50%. The estimate stays open; "
            "later use Invoice remaining balance for the rest.",
            "The estimate passed its Valid until date, so it's Expired and can't be accepted. Set a new date "
            "and send it again.",
        ),
    ),
    Topic(
        key="mobile",
        tags=("mobile", "ios", "android"),
        subjects=("Tap to Pay on iPhone", "Mobile app can't change settings"),
        openers=(
            "Can I take a card payment in person with the iPhone app?",
            "I can't find the reminder settings in the Android app.",
        ),
        answers=(
            "Yes, Tap to Pay on iPhone works for US accounts using Ledgerly Payments, on iPhone XS or later.",
            "Reminder, payment and tax settings are only in the web app at app.ledgerly.example; the app "
            "covers invoices, payments, receipts and notifications.",
        ),
        priority=("low",),
    ),
)
