package main

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// Features are the model inputs, in the order of the training CSV's columns
// and of the XGBoost model's features.
var Features = []string{"amount", "amount_ratio", "hour", "distance_km", "foreign", "card_present", "merchant_risk", "velocity_1h"}

// Txn is one synthetic card transaction.
type Txn struct {
	ID    string
	Card  int
	X     []float64 // in Features order
	Fraud bool
}

// card is a card holder's habits.
type card struct {
	typical float64 // typical amount
}

// Generator makes a seeded stream of card transactions in which about
// FraudRate of them are fraudulent. Frauds tend to be larger than the card's
// usual amount (or, when a stolen card is tested, tiny), at night, far from
// home, abroad, card-not-present, at risky merchants and in bursts; a quarter of them are "quiet" and look like the
// card holder's own, so no model can catch every fraud; and 3 % of the
// legitimate ones are the holder travelling, which looks like fraud in part.
type Generator struct {
	rng       *rand.Rand
	cards     []card
	FraudRate float64
	n         int
}

// NewGenerator returns a generator over 2,000 cards.
func NewGenerator(seed uint64) *Generator {
	rng := rand.New(rand.NewPCG(seed, 0x6672617564))
	g := &Generator{rng: rng, FraudRate: 0.015}
	g.cards = make([]card, 2000)
	for i := range g.cards {
		g.cards[i].typical = math.Exp(3.2 + 0.7*rng.NormFloat64()) // median about 25
	}
	return g
}

// Next returns the next transaction; ids are prefix-1, prefix-2, ...
func (g *Generator) Next(prefix string) Txn {
	g.n++
	r := g.rng
	ci := r.IntN(len(g.cards))
	c := &g.cards[ci]
	fraud := r.Float64() < g.FraudRate
	quiet := fraud && r.Float64() < 0.25

	var amount, hour, dist, foreign, present, risk, velocity float64
	switch {
	case !fraud && r.Float64() < 0.03: // the holder travels: far, abroad, more, at odd hours
		amount = c.typical * math.Exp(0.7+0.7*r.NormFloat64())
		hour = r.Float64() * 24
		dist = 50 + r.ExpFloat64()*600
		foreign = bern(r, 0.8)
		present = bern(r, 0.5)
		risk = beta(r, 3, 6)
		velocity = float64(poisson(r, 1))
	case !fraud || quiet:
		amount = c.typical * math.Exp(0.6*r.NormFloat64())
		hour = math.Mod(13+4.5*r.NormFloat64()+24, 24) // daytime
		dist = r.ExpFloat64() * 8
		foreign = bern(r, 0.03)
		present = bern(r, 0.7)
		risk = beta(r, 2, 8)
		velocity = float64(poisson(r, 0.4))
	default:
		amount = c.typical * math.Exp(1.4+0.8*r.NormFloat64())
		if r.Float64() < 0.6 {
			hour = r.Float64() * 6 // night
		} else {
			hour = r.Float64() * 24
		}
		dist = r.ExpFloat64() * 400
		foreign = bern(r, 0.45)
		present = bern(r, 0.15)
		risk = beta(r, 5, 4)
		velocity = float64(1 + poisson(r, 2.5))
	}
	if fraud && !quiet && r.Float64() < 0.3 { // card testing: tiny amounts in a burst
		amount = 0.5 + 1.5*r.Float64()
		velocity = float64(3 + poisson(r, 3))
	}
	if quiet { // a little off, not much
		amount *= 1.3
		risk = beta(r, 3, 6)
	}
	amount = math.Round(amount*100) / 100
	return Txn{
		ID:   prefix + "-" + strconv.Itoa(g.n),
		Card: ci,
		X: []float64{
			amount,
			round3(amount / c.typical),
			round3(hour),
			round3(dist),
			foreign,
			present,
			round3(risk),
			velocity,
		},
		Fraud: fraud,
	}
}

func bern(r *rand.Rand, p float64) float64 {
	if r.Float64() < p {
		return 1
	}
	return 0
}

func poisson(r *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// beta draws from Beta(a, b) for whole a and b, as Ga/(Ga+Gb) with gamma variates.
func beta(r *rand.Rand, a, b int) float64 {
	x := gamma(r, a)
	return x / (x + gamma(r, b))
}

func gamma(r *rand.Rand, k int) float64 {
	s := 0.0
	for range k {
		s += r.ExpFloat64()
	}
	return s
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
